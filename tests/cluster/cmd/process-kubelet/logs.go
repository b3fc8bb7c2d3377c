package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"time"

	"k8s.io/klog/v2"
)

// serveLogs serves the kubelet endpoint's /containerLogs/{namespace}/{pod}/{container} (what the API server
// calls for pods/log, i.e. `kubectl logs`) over HTTPS with a certificate of the cluster CA. Clients must
// present a certificate of that CA (the API server's --kubelet-client-certificate); any such client may read
// any pod's logs (a kubelet asks the API server; this one does not).
func serveLogs(addr netip.Addr, port int, cert tls.Certificate, caFile string, a *agent) (*http.Server, error) {
	pool, err := caPool(caFile)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", a.containerLogs)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
		MinVersion: tls.VersionTLS12}}
	ln, err := net.Listen("tcp", net.JoinHostPort(addr.String(), strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("kubelet endpoint: %w", err)
	}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.Errorf("kubelet endpoint: %v", err)
		}
	}()
	return srv, nil
}

// lastLines is the end of data from the n-th line counted from the end.
func lastLines(data []byte, n int) []byte {
	if n < 0 {
		return data
	}
	end := len(data)
	if end > 0 && data[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if data[i] == '\n' {
			n--
			if n == 0 {
				return data[i+1:]
			}
		}
	}
	if n == 0 {
		return data[:0]
	}
	return data
}

func (a *agent) containerLogs(w http.ResponseWriter, req *http.Request) {
	ns, name, container := req.PathValue("namespace"), req.PathValue("pod"), req.PathValue("container")
	run := a.lookup(ns + "/" + name)
	if run == nil || run.container != container {
		http.Error(w, fmt.Sprintf("container %q in pod %s/%s is not on this node", container, ns, name), http.StatusNotFound)
		return
	}
	q := req.URL.Query()
	if q.Get("previous") == "true" {
		http.Error(w, "process-kubelet keeps one log per container across restarts: there is no previous one", http.StatusBadRequest)
		return
	}
	tail, limit := -1, int64(-1)
	if v := q.Get("tailLines"); v != "" {
		tail, _ = strconv.Atoi(v)
	}
	if v := q.Get("limitBytes"); v != "" {
		limit, _ = strconv.ParseInt(v, 10, 64)
	}
	f, err := os.Open(run.logPath())
	if err != nil {
		if os.IsNotExist(err) { // not started (yet): an empty log, as a waiting container has
			return
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	data = lastLines(data, tail)
	w.Header().Set("Content-Type", "text/plain")
	write := func(b []byte) bool {
		if limit >= 0 {
			if int64(len(b)) > limit {
				b = b[:limit]
			}
			limit -= int64(len(b))
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		return limit != 0
	}
	if !write(data) || q.Get("follow") != "true" {
		return
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := f.Read(buf)
		if n > 0 && !write(bytes.Clone(buf[:n])) {
			return
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return
		}
		if n == 0 {
			select {
			case <-req.Context().Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			if a.lookup(ns+"/"+name) != run {
				return // the pod is gone
			}
		}
	}
}
