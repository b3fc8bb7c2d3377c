package main

import (
	"context"
	"net/netip"
	"runtime"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
)

func nodeConditions(now metav1.Time) []corev1.NodeCondition {
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now,
			LastTransitionTime: now}
	}
	return []corev1.NodeCondition{
		cond(corev1.NodeReady, corev1.ConditionTrue, "ProcessKubeletReady", "process-kubelet is running pods as local processes"),
		cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "ProcessKubeletHasSufficientMemory", "not measured"),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "ProcessKubeletHasNoDiskPressure", "not measured"),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "ProcessKubeletHasSufficientPID", "not measured"),
	}
}

// registerNode creates (or takes over) the Node and publishes its status: Ready, the node's address (the
// veth pair's end on this machine, where the kubelet endpoint listens) and that endpoint's port, which the API
// server dials for `kubectl logs`.
func registerNode(ctx context.Context, client kubernetes.Interface, name string, addr netip.Addr, port int) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"kubernetes.io/hostname": name, "kubernetes.io/os": runtime.GOOS, "kubernetes.io/arch": runtime.GOARCH,
		"node.kubernetes.io/process-kubelet": "true"}}}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil &&
		!apierrors.IsAlreadyExists(err) {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		capacity := corev1.ResourceList{
			corev1.ResourceCPU:    *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
			corev1.ResourceMemory: resource.MustParse("8Gi"),
			corev1.ResourcePods:   resource.MustParse("250"),
		}
		n.Status = corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
			Phase:       corev1.NodeRunning,
			Conditions:  nodeConditions(metav1.Now()),
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: addr.String()},
				{Type: corev1.NodeHostName, Address: name}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
			NodeInfo: corev1.NodeSystemInfo{OperatingSystem: runtime.GOOS, Architecture: runtime.GOARCH,
				KubeletVersion: "process-kubelet", ContainerRuntimeVersion: "process://local"},
		}
		_, err = client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

// keepNodeReady renews the Ready condition's heartbeat, as a kubelet does (nothing here watches it, but a
// Node whose heartbeat stopped says so).
func keepNodeReady(ctx context.Context, client kubernetes.Interface, name string) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			now := metav1.Now()
			for i := range n.Status.Conditions {
				n.Status.Conditions[i].LastHeartbeatTime = now
			}
			_, err = client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
			return err
		})
		if err != nil && ctx.Err() == nil {
			klog.Warningf("node heartbeat: %v", err)
		}
	}
}
