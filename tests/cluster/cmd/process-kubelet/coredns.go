package main

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// coreDNSImages are CoreDNS's image names: the process-kubelet runs a CoreDNS binary built from the Go module
// (--coredns-binary) for them, tag and digest aside. The conformance suite's base manifests run one as the
// UDPRoute tests' DNS backend, and the suite waits for every pod of its namespace to be Ready.
var coreDNSImages = []string{"registry.k8s.io/coredns/coredns"}

func isCoreDNSImage(image string) bool {
	repo := imageRepository(image)
	for _, c := range coreDNSImages {
		if repo == c {
			return true
		}
	}
	return false
}

// coreDNSCommand is the container's command line with the binary standing for the image: the image's
// entrypoint is /coredns, so a command names it (or replaces it, which we cannot follow) and args follow.
func coreDNSCommand(c *corev1.Container, bin string) ([]string, error) {
	if bin == "" {
		return nil, &unmapped{"ImageNotMapped", fmt.Sprintf(
			"%s maps to CoreDNS, but no --coredns-binary (MG_COREDNS_BIN) was given", c.Image)}
	}
	argv := []string{bin}
	if len(c.Command) > 0 {
		if strings.TrimPrefix(c.Command[0], "/") != "coredns" {
			return nil, &unmapped{"ImageNotMapped", fmt.Sprintf(
				"%s: command %q is not the image's /coredns; process-kubelet runs only that program", c.Image, c.Command[0])}
		}
		argv = append(argv, c.Command[1:]...)
	}
	return append(argv, c.Args...), nil
}

// coreDNSReadiness: without a readiness probe a container is Ready once it runs, as with a kubelet (the
// suite's CoreDNS has none, and its DNS port is UDP: nothing to connect to).
func coreDNSReadiness(c *corev1.Container, r *podRun, env map[string]string) probeTarget {
	if c.ReadinessProbe != nil {
		return readinessTarget(c, r.ip, env)
	}
	return probeTarget{}
}
