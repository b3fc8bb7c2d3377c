package main

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"k8s.io/klog/v2"
)

// podNetwork is the pods' network namespace, joined to this machine's by a veth pair (host end .1 of the
// subnet, the namespace's end eth0), as tests/e2e/podnet.py makes it. All pods share it, each with its own
// address on eth0, so each process listens on its pod address only.
type podNetwork struct {
	netns, hostIf string
	subnet        netip.Prefix
	hostIP        netip.Addr

	mu   sync.Mutex
	used map[netip.Addr]bool
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func createPodNetwork(netns, hostIf string, subnet netip.Prefix) (*podNetwork, error) {
	n := &podNetwork{netns: netns, hostIf: hostIf, subnet: subnet, hostIP: subnet.Addr().Next(),
		used: map[netip.Addr]bool{}}
	n.remove() // what a killed agent left
	steps := [][]string{
		{"netns", "add", netns},
		{"link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", netns},
		{"addr", "add", n.hostIP.String() + "/24", "dev", hostIf},
		{"link", "set", hostIf, "up"},
		{"-n", netns, "link", "set", "lo", "up"},
		{"-n", netns, "link", "set", "eth0", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			n.remove()
			return nil, err
		}
	}
	return n, nil
}

// remove kills whatever still runs in the namespace, then deletes it and the veth pair.
func (n *podNetwork) remove() {
	if out, err := exec.Command("ip", "netns", "pids", n.netns).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	_ = exec.Command("ip", "netns", "del", n.netns).Run()
	_ = exec.Command("ip", "link", "del", n.hostIf).Run()
}

// allocate assigns a free address of the subnet to eth0 in the namespace.
func (n *podNetwork) allocate() (netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for a := n.hostIP.Next(); n.subnet.Contains(a) && a.As4()[3] != 255; a = a.Next() {
		if n.used[a] {
			continue
		}
		if err := ip("-n", n.netns, "addr", "add", a.String()+"/24", "dev", "eth0"); err != nil {
			return netip.Addr{}, err
		}
		n.used[a] = true
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("no free pod address left in %s", n.subnet)
}

func (n *podNetwork) release(a netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.used[a] {
		return
	}
	delete(n.used, a)
	if err := ip("-n", n.netns, "addr", "del", a.String()+"/24", "dev", "eth0"); err != nil {
		klog.Warningf("releasing pod address %s: %v", a, err)
	}
}
