package main

import (
	"net/netip"
	"testing"
)

func TestAddressesAreGivenInTurnAfterTheLastOne(t *testing.T) {
	subnet := netip.MustParsePrefix("10.244.220.0/24")
	check := func(last netip.Addr, first, final string) {
		t.Helper()
		order := addressOrder(subnet, last)
		if len(order) != 253 || order[0] != netip.MustParseAddr(first) || order[252] != netip.MustParseAddr(final) {
			t.Errorf("after %v: %d addresses, %v ... %v; want 253, %s ... %s", last, len(order), order[0], order[252],
				first, final)
		}
	}
	check(netip.Addr{}, "10.244.220.2", "10.244.220.254")
	// A pod's address freed just now is the last to be given again.
	check(netip.MustParseAddr("10.244.220.3"), "10.244.220.4", "10.244.220.3")
	check(netip.MustParseAddr("10.244.220.254"), "10.244.220.2", "10.244.220.254")
}
