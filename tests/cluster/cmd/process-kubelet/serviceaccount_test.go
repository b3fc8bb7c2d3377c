package main

import (
	"net/netip"
	"testing"
	"time"
)

func TestTokenRefreshAtEightyPercentOfItsLife(t *testing.T) {
	issued := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	if got, want := tokenRefreshAt(issued, issued.Add(time.Hour)), issued.Add(48*time.Minute); !got.Equal(want) {
		t.Errorf("a 1 h token: refresh at %v, want %v", got, want)
	}
	// A kube-api-access token the API server extended to a year: refreshed after a day, as the kubelet does.
	if got, want := tokenRefreshAt(issued, issued.Add(365*24*time.Hour)), issued.Add(24*time.Hour); !got.Equal(want) {
		t.Errorf("a 1 year token: refresh at %v, want %v", got, want)
	}
}

func TestServiceEnvPointsAtTheRelay(t *testing.T) {
	env := serviceEnv(netip.MustParseAddr("10.244.220.1"))
	want := map[string]string{
		"KUBERNETES_SERVICE_HOST": "10.244.220.1", "KUBERNETES_SERVICE_PORT": "443",
		"KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": "tcp://10.244.220.1:443",
		"KUBERNETES_PORT_443_TCP": "tcp://10.244.220.1:443", "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
		"KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": "10.244.220.1",
	}
	if len(env) != len(want) {
		t.Errorf("got %v, want %v", env, want)
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
}
