package main

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestHostPathRewritesUnderTheDeepestMount(t *testing.T) {
	mounts := map[string]string{"/root": "/state/v/conf", "/etc/certs": "/state/v/certs", "/etc/certs/ca": "/state/v/ca"}
	for in, want := range map[string]string{
		"/root/Corefile":       "/state/v/conf/Corefile",
		"/root":                "/state/v/conf",
		"/rootfs/Corefile":     "/rootfs/Corefile", // a sibling, not under /root
		"/etc/certs/tls.crt":   "/state/v/certs/tls.crt",
		"/etc/certs/ca/ca.crt": "/state/v/ca/ca.crt",
		"-conf":                "-conf",
		"":                     "",
	} {
		if got := hostPath(in, mounts); got != want {
			t.Errorf("hostPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRewriteArgsLeavesTheProgramAlone(t *testing.T) {
	argv := []string{"/root/coredns", "-conf", "/root/Corefile", "--token-file=/root/token", "--name=/rootfs"}
	rewriteArgs(argv, map[string]string{"/root": "/state/v/conf"})
	want := []string{"/root/coredns", "-conf", "/state/v/conf/Corefile", "--token-file=/state/v/conf/token", "--name=/rootfs"}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("rewriteArgs: %q, want %q", argv, want)
	}
}

func TestCoreDNSCommandRunsTheBinaryWithTheContainersArgs(t *testing.T) {
	c := &corev1.Container{Image: "registry.k8s.io/coredns/coredns:v1.14.6", Args: []string{"-conf", "/root/Corefile"}}
	if !isCoreDNSImage(c.Image) || isCoreDNSImage("registry.k8s.io/gateway-api/echo-basic:v1") {
		t.Fatalf("isCoreDNSImage does not tell CoreDNS from the echo")
	}
	argv, err := coreDNSCommand(c, "/cache/coredns")
	if want := []string{"/cache/coredns", "-conf", "/root/Corefile"}; err != nil || !reflect.DeepEqual(argv, want) {
		t.Errorf("coreDNSCommand = %q, %v; want %q", argv, err, want)
	}
	c.Command = []string{"/coredns", "-dns.port", "1053"}
	if argv, _ := coreDNSCommand(c, "/cache/coredns"); !reflect.DeepEqual(argv, []string{"/cache/coredns", "-dns.port", "1053", "-conf", "/root/Corefile"}) {
		t.Errorf("coreDNSCommand with command = %q", argv)
	}
	c.Command = []string{"/bin/sh"}
	if _, err := coreDNSCommand(c, "/cache/coredns"); err == nil {
		t.Errorf("coreDNSCommand ran another program than /coredns")
	}
	c.Command = nil
	if _, err := coreDNSCommand(c, ""); err == nil || err.(*unmapped).reason != "ImageNotMapped" {
		t.Errorf("coreDNSCommand without a binary: %v, want ImageNotMapped", err)
	}
}

func TestNoProbeMeansReadyWhileRunning(t *testing.T) {
	if !(probeTarget{}).check() {
		t.Errorf("an empty probe target is not ready")
	}
}
