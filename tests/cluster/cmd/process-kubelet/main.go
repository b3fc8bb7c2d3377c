// process-kubelet is the node agent of mirrorgate's test cluster (docs/cluster.md): not a kubelet, but what the
// tests need of one and of a scheduler on a one-node cluster. It registers a Node, binds every pending
// unscheduled pod to it, and runs each pod's container as a local process in a network namespace it makes (one
// per pod, joined to a bridge on this machine by a veth pair; pod addresses from --pod-subnet). Only images it can map
// to a local binary run (images.go); any other leaves the pod waiting with the reason. It reports pod status
// (addresses, container states, Ready from the readiness probe or the container port), stops a deleted pod's
// process (SIGTERM, SIGKILL after the grace period) and then removes the pod object, and serves the kubelet's
// log endpoint over HTTPS so that `kubectl logs` works.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

type config struct {
	kubeconfig string
	nodeName   string
	stateDir   string
	subnet     netip.Prefix
	netns      string
	hostIf     string
	port       int
	caCert     string
	caKey      string
	echoBin    string
	gatewayBin string // mirrorgate, for its own image (mirrorgate_image.go)
	// upstreamEchoBin: the suite's own echo-basic, for the modes mirrorgate-echo does not have.
	upstreamEchoBin string
	// coreDNSBin: CoreDNS built from its Go module, for the CoreDNS image (coredns.go).
	coreDNSBin string
}

func parseFlags() (*config, error) {
	c := &config{}
	var subnet string
	flag.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig of this agent's user")
	flag.StringVar(&c.nodeName, "node-name", "mirrorgate-node", "name of the Node it registers")
	flag.StringVar(&c.stateDir, "dir", "", "directory for pod logs and volumes (removed pod by pod)")
	flag.StringVar(&subnet, "pod-subnet", "10.244.0.0/24", "IPv4 /24 of the pods: .1 is this machine's end of the veth pair (the node's address), pods get .2 onwards")
	flag.StringVar(&c.netns, "netns", "", "prefix of the pods' network namespaces (NETNS-<last octet of the pod address>)")
	flag.StringVar(&c.hostIf, "host-interface", "", "name of the bridge on this machine holding the node's address (at most 11 characters: the pods' veth ends are named after it)")
	flag.IntVar(&c.port, "port", 10250, "port of the kubelet endpoint (container logs) on the node's address")
	flag.StringVar(&c.caCert, "ca-cert", "", "cluster CA certificate: signs this agent's serving certificate and verifies the API server's client certificate")
	flag.StringVar(&c.caKey, "ca-key", "", "cluster CA key (for the serving certificate)")
	flag.StringVar(&c.echoBin, "echo-binary", os.Getenv("MG_ECHO_BIN"), "mirrorgate-echo, run for the conformance echo image (default $MG_ECHO_BIN)")
	flag.StringVar(&c.gatewayBin, "mirrorgate-binary", os.Getenv("MG_GATEWAY_BIN"), "mirrorgate, run for mirrorgate's image (charts/mirrorgate; default $MG_GATEWAY_BIN)")
	flag.StringVar(&c.upstreamEchoBin, "upstream-echo-binary", os.Getenv("MG_UPSTREAM_ECHO_BIN"), "the conformance suite's own echo-basic (sigs.k8s.io/gateway-api/conformance/echo-basic), run for the echo image's gRPC and TCP modes (default $MG_UPSTREAM_ECHO_BIN; none: those pods wait)")
	flag.StringVar(&c.coreDNSBin, "coredns-binary", os.Getenv("MG_COREDNS_BIN"), "CoreDNS (github.com/coredns/coredns), run for the CoreDNS image with the container's args (default $MG_COREDNS_BIN; none: those pods wait)")
	klog.InitFlags(nil)
	flag.Parse()
	if c.kubeconfig == "" || c.stateDir == "" || c.netns == "" || c.hostIf == "" || c.caCert == "" || c.caKey == "" {
		return nil, fmt.Errorf("--kubeconfig, --dir, --netns, --host-interface, --ca-cert and --ca-key are required")
	}
	p, err := netip.ParsePrefix(subnet)
	if err != nil || !p.Addr().Is4() || p.Bits() != 24 {
		return nil, fmt.Errorf("--pod-subnet %q: want an IPv4 /24 such as 10.244.0.0/24", subnet)
	}
	c.subnet = p.Masked()
	if len(c.hostIf) > 11 {
		return nil, fmt.Errorf("--host-interface %q is longer than 11 characters", c.hostIf)
	}
	return c, nil
}

func run() error {
	cfg, err := parseFlags()
	if err != nil {
		return err
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()

	network, err := createPodNetwork(cfg.netns, cfg.hostIf, cfg.subnet)
	if err != nil {
		return err
	}
	defer network.remove()

	relay, err := relayAPIServer(network.hostIP, restCfg.Host)
	if err != nil {
		return err
	}
	defer relay.Close()

	serving, err := newServingCert(cfg.caCert, cfg.caKey, cfg.nodeName, network.hostIP)
	if err != nil {
		return err
	}
	if err := registerNode(ctx, client, cfg.nodeName, network.hostIP, cfg.port); err != nil {
		return fmt.Errorf("registering Node %s: %w", cfg.nodeName, err)
	}
	agent := newAgent(client, cfg, network)
	logs, err := serveLogs(network.hostIP, cfg.port, serving, cfg.caCert, agent)
	if err != nil {
		return err
	}
	defer logs.Close()
	go keepNodeReady(ctx, client, cfg.nodeName)
	klog.Infof("node %s ready: pods in %s (netns %s), kubelet endpoint https://%s:%d", cfg.nodeName, cfg.subnet,
		cfg.netns, network.hostIP, cfg.port)
	agent.run(ctx)
	// Stopping: every process goes with the agent, as `cluster.sh down` promises.
	shutdown, done := context.WithTimeout(context.Background(), 15*time.Second)
	defer done()
	agent.stopAll(shutdown)
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == podHostnameCommand { // the pod's first step (hostname.go)
		os.Exit(runPodHostname(os.Args[2:]))
	}
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "process-kubelet: %v\n", err)
		os.Exit(1)
	}
}
