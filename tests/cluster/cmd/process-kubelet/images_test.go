package main

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestEchoWithServerCertificateRunsTheUpstreamEcho(t *testing.T) {
	env := map[string]string{"TLS_SERVER_CERT": "/v/crt", "TLS_SERVER_PRIVKEY": "/v/key"}
	image := "registry.k8s.io/gateway-api/conformance/echo-basic:v0.1.0"
	if argv, _, err := commandFor(image, "/b/mirrorgate-echo", "/c/echo-basic", env, netip.MustParseAddr("10.0.0.2")); err != nil || !reflect.DeepEqual(argv, []string{"/c/echo-basic"}) {
		t.Errorf("with the upstream echo: %q, %v", argv, err)
	}
	argv, notes, err := commandFor(image, "/b/mirrorgate-echo", "", env, netip.MustParseAddr("10.0.0.2"))
	if err != nil || argv[0] != "/b/mirrorgate-echo" || len(notes) != 1 {
		t.Errorf("without it: %q, %q, %v; want mirrorgate-echo and a note on the missing HTTPS listener", argv, notes, err)
	}
}
