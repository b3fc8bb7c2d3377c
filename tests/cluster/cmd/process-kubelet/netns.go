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

// podNetwork is the pods' network: a bridge on this machine holding the subnet's .1 (the node's address) and,
// per pod, a network namespace NETNS-<last octet> joined to the bridge by a veth pair, with the pod's
// address on its eth0. A namespace per pod, as in a cluster, so that programs binding every address (:port)
// run side by side.
type podNetwork struct {
	netns, bridge string
	subnet        netip.Prefix
	hostIP        netip.Addr

	mu   sync.Mutex
	used map[netip.Addr]bool
	last netip.Addr // the address given last: the next search starts after it
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func createPodNetwork(netns, bridge string, subnet netip.Prefix) (*podNetwork, error) {
	n := &podNetwork{netns: netns, bridge: bridge, subnet: subnet, hostIP: subnet.Addr().Next(),
		used: map[netip.Addr]bool{}}
	n.remove() // what a killed agent left
	steps := [][]string{
		{"link", "add", bridge, "type", "bridge"},
		{"addr", "add", n.hostIP.String() + "/24", "dev", bridge},
		{"link", "set", bridge, "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			n.remove()
			return nil, err
		}
	}
	return n, nil
}

// podNetns is the network namespace of the pod at address a.
func (n *podNetwork) podNetns(a netip.Addr) string {
	return fmt.Sprintf("%s-%d", n.netns, a.As4()[3])
}

func killNetns(netns string) {
	if out, err := exec.Command("ip", "netns", "pids", netns).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	_ = exec.Command("ip", "netns", "del", netns).Run() // its end of the veth pair goes with it, and so the other
}

// remove kills whatever still runs in the pods' namespaces, deletes them and the bridge.
func (n *podNetwork) remove() {
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], n.netns+"-") {
				killNetns(f[0])
			}
		}
	}
	_ = exec.Command("ip", "link", "del", n.bridge).Run()
}

// allocate makes the network namespace of a pod with a free address of the subnet; returns the address and
// the namespace's name. Addresses are given in turn, after the last one given (as host-local IPAM does): the
// kernel tears a deleted namespace down in the background, and its veth pair, named after the address, may
// still exist for a moment after a pod is gone.
func (n *podNetwork) allocate() (netip.Addr, string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range addressOrder(n.subnet, n.last) {
		if n.used[a] {
			continue
		}
		netns, hostEnd := n.podNetns(a), fmt.Sprintf("%sp%d", n.bridge, a.As4()[3])
		steps := [][]string{
			{"netns", "add", netns},
			{"link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", netns},
			{"link", "set", hostEnd, "master", n.bridge, "up"},
			{"-n", netns, "addr", "add", a.String() + "/24", "dev", "eth0"},
			{"-n", netns, "link", "set", "lo", "up"},
			{"-n", netns, "link", "set", "eth0", "up"},
			{"-n", netns, "route", "add", "default", "via", n.hostIP.String()},
		}
		for _, s := range steps {
			if err := ip(s...); err != nil {
				killNetns(netns)
				_ = exec.Command("ip", "link", "del", hostEnd).Run()
				return netip.Addr{}, "", err
			}
		}
		n.used[a], n.last = true, a
		return a, netns, nil
	}
	return netip.Addr{}, "", fmt.Errorf("no free pod address left in %s", n.subnet)
}

// addressOrder is the pod addresses of subnet (.2 to .254) in the order allocate tries them: those after
// last first, then from .2 on.
func addressOrder(subnet netip.Prefix, last netip.Addr) []netip.Addr {
	after := 1
	if last.IsValid() {
		after = int(last.As4()[3])
	}
	order := make([]netip.Addr, 0, 253)
	for i := 0; i < 253; i++ {
		octets := subnet.Addr().As4()
		octets[3] = byte(2 + (after-1+i)%253)
		order = append(order, netip.AddrFrom4(octets))
	}
	return order
}

// release removes the pod's namespace (and whatever still runs in it) and frees its address.
func (n *podNetwork) release(a netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.used[a] {
		return
	}
	delete(n.used, a)
	killNetns(n.podNetns(a))
	klog.V(2).Infof("released pod address %s", a)
}
