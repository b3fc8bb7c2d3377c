package main

import (
	"fmt"
	"net/netip"
	"strings"
)

// echoImages are the conformance echo image's names (the suite's manifests and their staging copy): the
// process-kubelet runs mirrorgate-echo for them, tag and digest aside.
var echoImages = []string{
	"gcr.io/k8s-staging-gateway-api/echo-basic",
	"registry.k8s.io/gateway-api/echo-basic",
	"registry.k8s.io/gateway-api/conformance/echo-basic",
}

// imageRepository is image without its tag or digest.
func imageRepository(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

// unmapped says why a container cannot run here; it becomes the container's waiting reason and message.
type unmapped struct{ reason, message string }

func (u *unmapped) Error() string { return u.reason + ": " + u.message }

// commandFor is the local command line standing in for the container's image, or why there is none.
func commandFor(image, echoBin, upstreamEchoBin string, env map[string]string, podIP netip.Addr) ([]string, []string, error) {
	repo := imageRepository(image)
	isEcho := false
	for _, e := range echoImages {
		if repo == e {
			isEcho = true
		}
	}
	if !isEcho {
		return nil, nil, &unmapped{"ImageNotMapped", fmt.Sprintf(
			"process-kubelet runs no containers, only local programs for the images it maps (%s); %q is not one of them",
			strings.Join(append(echoImages[:len(echoImages):len(echoImages)], coreDNSImages...), ", "), image)}
	}
	if echoBin == "" {
		return nil, nil, &unmapped{"ImageNotMapped", fmt.Sprintf(
			"%s maps to mirrorgate-echo, but no --echo-binary (MG_ECHO_BIN) was given", image)}
	}
	for _, mode := range []string{"GRPC_ECHO_SERVER", "TCP_ECHO_SERVER", "UDP_ECHO_SERVER"} {
		if env[mode] == "" {
			continue
		}
		// mirrorgate-echo has only the HTTP mode; the suite's own echo-basic has the others.
		if upstreamEchoBin != "" && mode != "UDP_ECHO_SERVER" {
			return []string{upstreamEchoBin}, nil, nil
		}
		return nil, nil, &unmapped{"ImageModeNotMapped", fmt.Sprintf(
			"%s asks the echo for another mode than HTTP; mirrorgate-echo has only the HTTP mode and no --upstream-echo-binary (MG_UPSTREAM_ECHO_BIN) was given", mode)}
	}
	// mirrorgate-echo has no HTTPS listener: the suite's own echo-basic serves the HTTPS backends (the
	// BackendTLSPolicy tests' tls-backend pods), HTTP and h2c beside.
	if upstreamEchoBin != "" && env["TLS_SERVER_CERT"] != "" && env["TLS_SERVER_PRIVKEY"] != "" {
		return []string{upstreamEchoBin}, nil, nil
	}
	port := env["HTTP_PORT"]
	if port == "" {
		port = "3000"
	}
	h2c := env["H2C_PORT"]
	if h2c == "" {
		h2c = "3001"
	}
	var notes []string
	if env["TLS_SERVER_CERT"] != "" || env["TLS_SERVER_PRIVKEY"] != "" {
		notes = append(notes, "process-kubelet: mirrorgate-echo has no HTTPS listener: TLS_SERVER_CERT/TLS_SERVER_PRIVKEY are ignored, only HTTP and h2c are served")
	}
	argv := []string{echoBin, "--listen", podIP.String() + ":" + port, "--h2c-port", h2c, "--threads", "1"}
	return argv, notes, nil
}
