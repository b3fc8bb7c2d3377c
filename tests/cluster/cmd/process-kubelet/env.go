package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// configError is a container whose environment or volumes cannot be made; the kubelet's reason for that.
func configError(format string, args ...any) error {
	return &unmapped{"CreateContainerConfigError", fmt.Sprintf(format, args...)}
}

// fieldValue resolves a downward-API fieldRef, as the kubelet does for env.
func fieldValue(pod *corev1.Pod, podIP, hostIP string, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	case "status.hostIP", "status.hostIPs":
		return hostIP, nil
	}
	for _, m := range []struct {
		prefix string
		values map[string]string
	}{{"metadata.labels['", pod.Labels}, {"metadata.annotations['", pod.Annotations}} {
		if strings.HasPrefix(path, m.prefix) && strings.HasSuffix(path, "']") {
			return m.values[strings.TrimSuffix(strings.TrimPrefix(path, m.prefix), "']")], nil
		}
	}
	return "", configError("fieldRef %q is not supported by process-kubelet", path)
}

// objectData reads a Secret's or ConfigMap's data.
func (a *agent) objectData(ctx context.Context, ns, kind, name string) (map[string]string, error) {
	out := map[string]string{}
	if kind == "Secret" {
		s, err := a.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		for k, v := range s.Data {
			out[k] = string(v)
		}
		for k, v := range s.StringData {
			out[k] = v
		}
		return out, nil
	}
	cm, err := a.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	for k, v := range cm.Data {
		out[k] = v
	}
	for k, v := range cm.BinaryData {
		out[k] = string(v)
	}
	return out, nil
}

func optional(b *bool) bool { return b != nil && *b }

// containerEnv is the container's environment: envFrom, then env (values, fieldRef, secretKeyRef,
// configMapKeyRef), as the kubelet orders them. $(VAR) references are not expanded.
func (a *agent) containerEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIP, hostIP string) (map[string]string, error) {
	env := map[string]string{"HOSTNAME": pod.Name}
	for k, v := range serviceEnv(a.network.hostIP) { // Service "kubernetes", as a kubelet sets it (serviceaccount.go)
		env[k] = v
	}
	for _, from := range c.EnvFrom {
		kind, name, opt := "ConfigMap", "", false
		if from.ConfigMapRef != nil {
			name, opt = from.ConfigMapRef.Name, optional(from.ConfigMapRef.Optional)
		} else if from.SecretRef != nil {
			kind, name, opt = "Secret", from.SecretRef.Name, optional(from.SecretRef.Optional)
		} else {
			continue
		}
		data, err := a.objectData(ctx, pod.Namespace, kind, name)
		if err != nil {
			if opt {
				continue
			}
			return nil, configError("envFrom %s %q: %v", kind, name, err)
		}
		for k, v := range data {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
			continue
		}
		vf := e.ValueFrom
		switch {
		case vf.FieldRef != nil:
			v, err := fieldValue(pod, podIP, hostIP, vf.FieldRef.FieldPath)
			if err != nil {
				return nil, err
			}
			env[e.Name] = v
		case vf.SecretKeyRef != nil || vf.ConfigMapKeyRef != nil:
			kind, name, key, opt := "Secret", "", "", false
			if vf.SecretKeyRef != nil {
				name, key, opt = vf.SecretKeyRef.Name, vf.SecretKeyRef.Key, optional(vf.SecretKeyRef.Optional)
			} else {
				kind, name, key, opt = "ConfigMap", vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key, optional(vf.ConfigMapKeyRef.Optional)
			}
			data, err := a.objectData(ctx, pod.Namespace, kind, name)
			v, found := data[key]
			if err != nil || !found {
				if opt {
					continue
				}
				return nil, configError("env %s: %s %q key %q: not found (%v)", e.Name, kind, name, key, err)
			}
			env[e.Name] = v
		default:
			return nil, configError("env %s: only value, fieldRef, secretKeyRef and configMapKeyRef are supported", e.Name)
		}
	}
	return env, nil
}

// writeVolumes writes the pod's Secret, ConfigMap, projected and downwardAPI volumes as files under
// dir/volumes/NAME and returns each mounted volume's mountPath with the directory that stands for it. The
// process has no mount namespace of its own: paths under a mountPath in its environment are rewritten to that
// directory (rewritePaths). Other volume kinds are not made.
func (a *agent) writeVolumes(ctx context.Context, pod *corev1.Pod, c *corev1.Container, dir string) (map[string]string, error) {
	dirs := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		kind, name, opt := "", "", false
		var items []corev1.KeyToPath
		switch {
		case v.Secret != nil:
			kind, name, opt, items = "Secret", v.Secret.SecretName, optional(v.Secret.Optional), v.Secret.Items
		case v.ConfigMap != nil:
			kind, name, opt, items = "ConfigMap", v.ConfigMap.Name, optional(v.ConfigMap.Optional), v.ConfigMap.Items
		case v.Projected != nil || v.DownwardAPI != nil: // the service account's token among them (serviceaccount.go)
			volDir := filepath.Join(dir, "volumes", v.Name)
			if err := a.writeProjected(ctx, pod, &v, volDir); err != nil {
				return nil, err
			}
			dirs[v.Name] = volDir
			continue
		default:
			continue
		}
		data, err := a.objectData(ctx, pod.Namespace, kind, name)
		if err != nil && !opt {
			return nil, configError("volume %s: %s %q: %v", v.Name, kind, name, err)
		}
		volDir := filepath.Join(dir, "volumes", v.Name)
		if err := os.MkdirAll(volDir, 0o700); err != nil {
			return nil, err
		}
		files := map[string]string{}
		if len(items) == 0 {
			for k := range data {
				files[k] = k
			}
		}
		for _, it := range items {
			files[it.Key] = it.Path
		}
		for key, path := range files {
			value, found := data[key]
			if !found {
				return nil, configError("volume %s: %s %q has no key %q", v.Name, kind, name, key)
			}
			target := filepath.Join(volDir, filepath.Clean("/"+path))
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return nil, err
			}
			if err := os.WriteFile(target, []byte(value), 0o600); err != nil {
				return nil, err
			}
		}
		dirs[v.Name] = volDir
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		if d, ok := dirs[m.Name]; ok {
			mounts[filepath.Clean(m.MountPath)] = filepath.Join(d, m.SubPath)
		}
	}
	return mounts, nil
}

// rewritePaths points environment values under a volume's mountPath at the directory holding its files.
func rewritePaths(env map[string]string, mounts map[string]string) {
	for k, v := range env {
		env[k] = hostPath(v, mounts)
	}
}
