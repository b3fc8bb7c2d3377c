package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// A pod's hostname is its name, in a UTS namespace of its own, as a kubelet gives it: programs that name
// themselves by it (mirrorgate's leader-election identity, like client-go's) then tell the replicas apart.
// The process-kubelet starts each pod as itself with this first argument, in a new UTS namespace (run.go);
// this sets the hostname and executes the rest of the command line.
const podHostnameCommand = "pod-hostname"

// podCommand is the command that runs argv in the pod's network namespace under its hostname; its
// SysProcAttr must ask for a new UTS namespace.
func podCommand(hostname, netns string, argv []string) *exec.Cmd {
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe"
	}
	return exec.Command(self, append([]string{podHostnameCommand, hostname, "ip", "netns", "exec", netns}, argv...)...)
}

// runPodHostname is `process-kubelet pod-hostname NAME PROGRAM ARGS...`.
func runPodHostname(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: process-kubelet pod-hostname NAME PROGRAM [ARGS...]")
		return 2
	}
	if len(args[0]) > 63 {
		args[0] = args[0][:63] // as the kubelet truncates a pod name to a hostname
	}
	if err := syscall.Sethostname([]byte(args[0])); err != nil {
		fmt.Fprintf(os.Stderr, "process-kubelet: setting the pod's hostname %q: %v\n", args[0], err)
		return 1
	}
	program, err := exec.LookPath(args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "process-kubelet: %v\n", err)
		return 127
	}
	err = syscall.Exec(program, args[1:], os.Environ())
	fmt.Fprintf(os.Stderr, "process-kubelet: executing %s: %v\n", program, err)
	return 126
}
