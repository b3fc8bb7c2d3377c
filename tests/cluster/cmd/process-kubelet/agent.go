package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// agent schedules pending pods onto this node and keeps this node's pods' processes in step with the API:
// one sync per pod key (namespace/name) from a work queue, fed by a pod informer and by the processes' own
// events (exit, readiness changes).
type agent struct {
	client  kubernetes.Interface
	cfg     *config
	network *podNetwork
	queue   workqueue.TypedRateLimitingInterface[string]
	pods    corelisters.PodLister

	mu   sync.Mutex
	runs map[string]*podRun // by namespace/name
}

func newAgent(client kubernetes.Interface, cfg *config, network *podNetwork) *agent {
	return &agent{client: client, cfg: cfg, network: network, runs: map[string]*podRun{},
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
}

func (a *agent) run(ctx context.Context) {
	factory := informers.NewSharedInformerFactory(a.client, 0)
	informer := factory.Core().V1().Pods()
	a.pods = informer.Lister()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			a.queue.Add(key)
		}
	}
	_, _ = informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	for i := 0; i < 4; i++ {
		go wait.UntilWithContext(ctx, a.worker, time.Second)
	}
	<-ctx.Done()
	a.queue.ShutDown()
}

func (a *agent) worker(ctx context.Context) {
	for {
		key, quit := a.queue.Get()
		if quit {
			return
		}
		if err := a.sync(ctx, key); err != nil {
			if ctx.Err() == nil {
				klog.Warningf("pod %s: %v (retrying)", key, err)
			}
			a.queue.AddRateLimited(key)
		} else {
			a.queue.Forget(key)
		}
		a.queue.Done(key)
	}
}

func (a *agent) lookup(key string) *podRun {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.runs[key]
}

func (a *agent) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := a.pods.Pods(ns).Get(name)
	run := a.lookup(key)
	if apierrors.IsNotFound(err) {
		if run != nil { // deleted behind our back (force deletion): no grace left
			a.finish(ctx, key, run, 0, false)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if pod.Spec.NodeName == "" {
		return a.bind(ctx, pod)
	}
	if pod.Spec.NodeName != a.cfg.nodeName {
		return nil
	}
	if run != nil && run.uid != pod.UID { // a new pod of the same name: the old one is gone
		a.finish(ctx, key, run, 0, false)
		run = nil
	}
	if pod.DeletionTimestamp != nil {
		grace := int64(30)
		if pod.DeletionGracePeriodSeconds != nil {
			grace = *pod.DeletionGracePeriodSeconds
		}
		if run == nil {
			return a.deletePod(ctx, pod)
		}
		if run.beginStopping() {
			go a.finish(context.WithoutCancel(ctx), key, run, time.Duration(grace)*time.Second, true)
		}
		return nil
	}
	if run == nil {
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			return nil // ran before this agent started
		}
		run = a.start(ctx, key, pod)
	}
	return a.updateStatus(ctx, pod, run)
}

// bind is the scheduler's part: every pending pod goes to this one node.
func (a *agent) bind(ctx context.Context, pod *corev1.Pod) error {
	if pod.DeletionTimestamp != nil || (pod.Spec.SchedulerName != "" && pod.Spec.SchedulerName != corev1.DefaultSchedulerName) {
		return nil
	}
	err := a.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: a.cfg.nodeName},
	}, metav1.CreateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // bound or deleted meanwhile: the informer brings the news
	}
	return err
}

// start prepares the pod (address, volumes, environment, command) and starts its process; what cannot be
// prepared stays on the run as the container's waiting reason.
func (a *agent) start(ctx context.Context, key string, pod *corev1.Pod) *podRun {
	run := &podRun{key: key, uid: pod.UID, namespace: pod.Namespace, name: pod.Name,
		dir:       filepath.Join(a.cfg.stateDir, "pods", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID)),
		startTime: metav1.Now().Rfc3339Copy(), notify: func() { a.queue.Add(key) }}
	a.mu.Lock()
	a.runs[key] = run
	a.mu.Unlock()
	if len(pod.Spec.Containers) > 0 {
		run.container, run.image = pod.Spec.Containers[0].Name, pod.Spec.Containers[0].Image
	}
	if err := a.prepare(ctx, pod, run); err != nil {
		run.fail(err)
		klog.Infof("pod %s not started: %v", key, err)
		if isConfigError(err) {
			a.retryLater(ctx, key, run)
		}
		return run
	}
	run.launch()
	return run
}

func (a *agent) prepare(ctx context.Context, pod *corev1.Pod, run *podRun) error {
	if len(pod.Spec.Containers) != 1 || len(pod.Spec.InitContainers) != 0 {
		return &unmapped{"UnsupportedPod", "process-kubelet runs pods of exactly one container and no init containers"}
	}
	if pod.Spec.HostNetwork {
		return &unmapped{"UnsupportedPod", "process-kubelet runs pods in its own network namespace only (hostNetwork)"}
	}
	c := &pod.Spec.Containers[0]
	if err := os.MkdirAll(run.dir, 0o700); err != nil {
		return err
	}
	addr, netns, err := a.network.allocate()
	if err != nil {
		return &unmapped{"NetworkNotReady", err.Error()}
	}
	run.ip, run.hostIP, run.netns = addr, a.network.hostIP, netns
	mounts, err := a.writeVolumes(ctx, pod, c, run.dir)
	if err != nil {
		return err
	}
	env, err := a.containerEnv(ctx, pod, c, addr.String(), a.network.hostIP.String())
	if err != nil {
		return err
	}
	if isMirrorgateImage(c.Image) { // mirrorgate_image.go
		return a.prepareGateway(pod, c, run, env, mounts)
	}
	rewritePaths(env, mounts)
	var argv, notes []string
	if isCoreDNSImage(c.Image) {
		argv, err = coreDNSCommand(c, a.cfg.coreDNSBin)
	} else {
		argv, notes, err = commandFor(c.Image, a.cfg.echoBin, a.cfg.upstreamEchoBin, env, addr)
	}
	if err != nil {
		return err
	}
	rewriteArgs(argv, mounts)
	run.argv, run.env, run.notes = argv, env, notes
	run.restartPolicy = pod.Spec.RestartPolicy
	run.probe = readinessTarget(c, addr, env)
	if isCoreDNSImage(c.Image) {
		run.probe = coreDNSReadiness(c, run, env)
	}
	return nil
}

// finish stops the pod's process (SIGTERM, SIGKILL after grace), frees its address and files, and, for a
// pod being deleted, removes the object so that its controller sees it gone.
func (a *agent) finish(ctx context.Context, key string, run *podRun, grace time.Duration, deleteObject bool) {
	run.beginStopping()
	run.stop(grace)
	if run.ip.IsValid() {
		a.network.release(run.ip)
	}
	_ = os.RemoveAll(run.dir)
	a.mu.Lock()
	if a.runs[key] == run {
		delete(a.runs, key)
	}
	a.mu.Unlock()
	if deleteObject {
		zero := int64(0)
		err := a.client.CoreV1().Pods(run.namespace).Delete(ctx, run.name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &run.uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			klog.Warningf("pod %s: removing the object: %v", key, err)
			a.queue.AddRateLimited(key)
		}
	}
}

func (a *agent) deletePod(ctx context.Context, pod *corev1.Pod) error {
	zero := int64(0)
	err := a.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

func (a *agent) stopAll(ctx context.Context) {
	a.mu.Lock()
	runs := make([]*podRun, 0, len(a.runs))
	for _, r := range a.runs {
		runs = append(runs, r)
	}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.beginStopping()
			r.stop(5 * time.Second)
		}()
	}
	wg.Wait()
}

// updateStatus writes the pod's status when it differs from what this agent last wrote.
func (a *agent) updateStatus(ctx context.Context, pod *corev1.Pod, run *podRun) error {
	status := run.podStatus(pod)
	if equality.Semantic.DeepEqual(status, pod.Status) || run.alreadyWritten(status) {
		return nil
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := a.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if latest.UID != run.uid || latest.DeletionTimestamp != nil {
			return nil
		}
		latest.Status = run.podStatus(latest)
		if _, err = a.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, latest, metav1.UpdateOptions{}); err == nil {
			run.written(latest.Status)
		}
		return err
	})
}
