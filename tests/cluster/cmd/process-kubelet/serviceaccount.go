package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// What a kubelet gives a pod that automounts its service account: the projected volume the API server's
// ServiceAccount admission adds (kube-api-access-*: a TokenRequest token bound to the pod, ca.crt from
// ConfigMap kube-root-ca.crt, the namespace from the downward API), written like the other volumes, and
// the KUBERNETES_SERVICE_* variables, which point at the relay to the API server (apiserver_relay.go).

// writeProjected writes a projected (or downwardAPI) volume's sources into volDir. Tokens are kept fresh
// while the pod runs (keepTokenFresh).
func (a *agent) writeProjected(ctx context.Context, pod *corev1.Pod, v *corev1.Volume, volDir string) error {
	sources := []corev1.VolumeProjection{}
	if v.Projected != nil {
		sources = v.Projected.Sources
	} else if v.DownwardAPI != nil {
		sources = []corev1.VolumeProjection{{DownwardAPI: &corev1.DownwardAPIProjection{Items: v.DownwardAPI.Items}}}
	}
	if err := os.MkdirAll(volDir, 0o700); err != nil {
		return err
	}
	for _, s := range sources {
		switch {
		case s.Secret != nil || s.ConfigMap != nil:
			kind, name, opt, items := "ConfigMap", "", false, []corev1.KeyToPath(nil)
			if s.Secret != nil {
				kind, name, opt, items = "Secret", s.Secret.Name, optional(s.Secret.Optional), s.Secret.Items
			} else {
				name, opt, items = s.ConfigMap.Name, optional(s.ConfigMap.Optional), s.ConfigMap.Items
			}
			data, err := a.objectData(ctx, pod.Namespace, kind, name)
			if err != nil {
				if opt {
					continue
				}
				return configError("volume %s: %s %q: %v", v.Name, kind, name, err)
			}
			files := map[string]string{}
			for k, value := range data {
				if len(items) == 0 {
					files[k] = value
				}
			}
			for _, it := range items {
				value, found := data[it.Key]
				if !found {
					if opt {
						continue
					}
					return configError("volume %s: %s %q has no key %q", v.Name, kind, name, it.Key)
				}
				files[it.Path] = value
			}
			for path, value := range files {
				if err := writeVolumeFile(volDir, path, value); err != nil {
					return err
				}
			}
		case s.DownwardAPI != nil:
			for _, it := range s.DownwardAPI.Items {
				if it.FieldRef == nil {
					return configError("volume %s: %s: only fieldRef is supported by process-kubelet in the downward API", v.Name, it.Path)
				}
				value, err := downwardFile(pod, it.FieldRef.FieldPath)
				if err != nil {
					return err
				}
				if err := writeVolumeFile(volDir, it.Path, value); err != nil {
					return err
				}
			}
		case s.ServiceAccountToken != nil:
			token := &projectedToken{pod: pod, source: *s.ServiceAccountToken,
				file: filepath.Join(volDir, filepath.Clean("/"+s.ServiceAccountToken.Path))}
			if err := a.requestToken(ctx, token); err != nil {
				return configError("volume %s: a token of ServiceAccount %s/%s: %v", v.Name, pod.Namespace,
					serviceAccountOf(pod), err)
			}
			if run := a.lookup(pod.Namespace + "/" + pod.Name); run != nil {
				go a.keepTokenFresh(ctx, token, run)
			}
		default:
			return configError("volume %s: only secret, configMap, downwardAPI and serviceAccountToken sources are supported by process-kubelet", v.Name)
		}
	}
	return nil
}

// writeVolumeFile replaces a volume's file at once (a new file renamed over the old), so that a reader
// never sees half a token.
func writeVolumeFile(volDir, path, value string) error {
	target := filepath.Join(volDir, filepath.Clean("/"+path))
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".tmp")
	if err := os.WriteFile(tmp, []byte(value), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, target)
}

// downwardFile is a downward-API file's content: one field, or a whole label or annotation map as the
// kubelet writes it (key="value" lines, sorted).
func downwardFile(pod *corev1.Pod, path string) (string, error) {
	var m map[string]string
	switch path {
	case "metadata.labels":
		m = pod.Labels
	case "metadata.annotations":
		m = pod.Annotations
	default:
		return fieldValue(pod, pod.Status.PodIP, pod.Status.HostIP, path)
	}
	lines := make([]string, 0, len(m))
	for k, v := range m {
		lines = append(lines, k+"="+strconv.Quote(v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n"), nil
}

func serviceAccountOf(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	return "default"
}

// projectedToken is one serviceAccountToken source of a pod: where it is written and when it was issued.
type projectedToken struct {
	pod             *corev1.Pod
	source          corev1.ServiceAccountTokenProjection
	file            string
	issued, expires time.Time
}

// requestToken asks the TokenRequest API for a token of the pod's service account bound to the pod, with
// the source's audience (none: the API server's) and expiry, as the kubelet does, and writes it.
func (a *agent) requestToken(ctx context.Context, t *projectedToken) error {
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: t.source.ExpirationSeconds,
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: t.pod.Name,
			UID: t.pod.UID},
	}}
	if t.source.Audience != "" {
		req.Spec.Audiences = []string{t.source.Audience}
	}
	issued := time.Now()
	resp, err := a.client.CoreV1().ServiceAccounts(t.pod.Namespace).CreateToken(ctx, serviceAccountOf(t.pod), req,
		metav1.CreateOptions{})
	if err != nil {
		return err
	}
	if err := writeVolumeFile(filepath.Dir(t.file), filepath.Base(t.file), resp.Status.Token); err != nil {
		return err
	}
	t.issued, t.expires = issued, resp.Status.ExpirationTimestamp.Time
	return nil
}

// tokenRefreshAt is when the kubelet's token manager replaces a token: once 80 % of its life has passed, and
// at the latest 24 hours after it was issued (tokens of the default kube-api-access volume live a year when the
// API server extends them).
func tokenRefreshAt(issued, expires time.Time) time.Time {
	at := issued.Add(expires.Sub(issued) * 8 / 10)
	if latest := issued.Add(24 * time.Hour); at.After(latest) {
		at = latest
	}
	return at
}

// keepTokenFresh replaces the pod's token before it expires, until the pod's run stops or is replaced
// (looked at every 30 s, so that the loop of a pod gone ends soon).
func (a *agent) keepTokenFresh(ctx context.Context, t *projectedToken, run *podRun) {
	due := tokenRefreshAt(t.issued, t.expires)
	for {
		wait := min(time.Until(due), 30*time.Second)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		run.mu.Lock()
		stopping := run.stopping
		run.mu.Unlock()
		if stopping || a.lookup(run.key) != run {
			return
		}
		if time.Now().Before(due) {
			continue
		}
		if err := a.requestToken(ctx, t); err != nil {
			klog.Warningf("pod %s: refreshing the token %s: %v (retrying in 10 s)", run.key, t.file, err)
			due = time.Now().Add(10 * time.Second)
			continue
		}
		due = tokenRefreshAt(t.issued, t.expires)
		klog.V(2).Infof("pod %s: token %s refreshed, expires %s, next refresh %s", run.key, t.file,
			t.expires.Format(time.RFC3339), due.Format(time.RFC3339))
	}
}

// serviceEnv is what a kubelet sets in every container for Service "kubernetes" (its ClusterIP there; here
// the relay on the node's address, with the Service's port), docker-link variables included.
func serviceEnv(hostIP netip.Addr) map[string]string {
	host, port := hostIP.String(), strconv.Itoa(apiServerRelayPort)
	url := fmt.Sprintf("tcp://%s:%s", host, port)
	prefix := "KUBERNETES_PORT_" + port + "_TCP"
	return map[string]string{
		"KUBERNETES_SERVICE_HOST":       host,
		"KUBERNETES_SERVICE_PORT":       port,
		"KUBERNETES_SERVICE_PORT_HTTPS": port,
		"KUBERNETES_PORT":               url,
		prefix:                          url,
		prefix + "_PROTO":               "tcp",
		prefix + "_PORT":                port,
		prefix + "_ADDR":                host,
	}
}
