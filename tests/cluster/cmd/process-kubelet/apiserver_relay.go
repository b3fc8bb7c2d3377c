package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"

	"k8s.io/klog/v2"
)

// apiServerRelayPort is the port of Service "kubernetes" (443), on which pods reach the API server at the
// node's address.
const apiServerRelayPort = 443

// apiServerRelay stands in for kube-proxy's rule for Service "kubernetes": the API server listens on
// 127.0.0.1, which a pod's network namespace cannot reach, so this relays TCP from the node's address (the
// bridge's, reachable from every pod and from nowhere off this machine) to it. TLS passes through untouched:
// the pod verifies the API server's own certificate, which carries the node's address (kube-controlplane pki
// --apiserver-ip).
type apiServerRelay struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
}

// relayAPIServer listens on hostIP:443 and relays every connection to the API server of server (the
// kubeconfig's https://host:port).
func relayAPIServer(hostIP netip.Addr, server string) (*apiServerRelay, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("API server relay: cannot use the server %q", server)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "443")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(hostIP.String(), strconv.Itoa(apiServerRelayPort)))
	if err != nil {
		return nil, fmt.Errorf("API server relay: %w", err)
	}
	r := &apiServerRelay{ln: ln, target: target}
	r.wg.Add(1)
	go r.serve()
	klog.Infof("API server relay: %s -> %s (KUBERNETES_SERVICE_HOST/PORT of the pods)", ln.Addr(), target)
	return r, nil
}

func (r *apiServerRelay) serve() {
	defer r.wg.Done()
	for {
		conn, err := r.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				klog.Errorf("API server relay: %v", err)
			}
			return
		}
		go r.relay(conn.(*net.TCPConn))
	}
}

// relay copies both ways until each side has closed its half (a watch lives as long as the client wants).
func (r *apiServerRelay) relay(client *net.TCPConn) {
	defer client.Close()
	upstream, err := net.DialTimeout("tcp", r.target, 10*time.Second)
	if err != nil {
		klog.Warningf("API server relay: %s: %v", r.target, err)
		return
	}
	defer upstream.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(upstream, client)
		_ = upstream.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	_, _ = io.Copy(client, upstream)
	_ = client.CloseWrite()
	<-done
}

// Close stops accepting; connections under way end with their processes (or the API server).
func (r *apiServerRelay) Close() error {
	err := r.ln.Close()
	r.wg.Wait()
	return err
}
