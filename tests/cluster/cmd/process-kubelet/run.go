package main

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/klog/v2"
)

// podRun is one pod's container on this node: its process (restarted by the pod's restartPolicy), its
// address, its log file and what the status reports.
type podRun struct {
	key, namespace, name string
	uid                  types.UID
	dir                  string
	container, image     string
	ip, hostIP           netip.Addr
	netns                string
	argv                 []string
	env                  map[string]string
	notes                []string
	restartPolicy        corev1.RestartPolicy
	probe                probeTarget
	startTime            metav1.Time
	notify               func() // asks the agent to sync this pod again

	mu           sync.Mutex
	cmd          *exec.Cmd
	exited       chan struct{} // closed when the current process has exited
	startedAt    metav1.Time
	running      bool
	ready        bool
	restarts     int32
	last         *corev1.ContainerStateTerminated // the latest exit
	waiting      *unmapped                        // why it cannot run
	stopping     bool
	lastWritten  *corev1.PodStatus
	probeStopped chan struct{}
}

func (r *podRun) logPath() string { return filepath.Join(r.dir, r.container+".log") }

func (r *podRun) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u, ok := err.(*unmapped); ok {
		r.waiting = u
	} else {
		r.waiting = &unmapped{"CreateContainerError", err.Error()}
	}
}

// beginStopping marks the run as going; true the first time.
func (r *podRun) beginStopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := !r.stopping
	r.stopping = true
	return first
}

// launch starts the process (in the pods' network namespace, its own process group, stdout and stderr
// appended to the container's log file) and the readiness probe.
func (r *podRun) launch() {
	r.probeStopped = make(chan struct{})
	go r.probeLoop()
	r.startProcess()
}

func (r *podRun) startProcess() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping {
		return
	}
	log, err := os.OpenFile(r.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		r.waiting = &unmapped{"CreateContainerError", err.Error()}
		go r.notify()
		return
	}
	defer log.Close()
	for _, n := range r.notes {
		fmt.Fprintln(log, n)
	}
	cmd := podCommand(r.name, r.netns, r.argv) // hostname.go
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	keys := make([]string, 0, len(r.env))
	for k := range r.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+r.env[k])
	}
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, r.dir, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Cloneflags: syscall.CLONE_NEWUTS}
	if err := cmd.Start(); err != nil {
		r.waiting = &unmapped{"RunContainerError", err.Error()}
		go r.notify()
		return
	}
	r.cmd, r.exited, r.running, r.ready, r.waiting = cmd, make(chan struct{}), true, false, nil
	r.startedAt = metav1.Now().Rfc3339Copy()
	klog.Infof("pod %s: started %v as pid %d on %s", r.key, r.argv, cmd.Process.Pid, r.ip)
	go r.supervise(cmd, r.exited, r.startedAt)
	go r.notify()
}

// supervise waits for the process and restarts it as the pod's restartPolicy says (with a growing delay).
func (r *podRun) supervise(cmd *exec.Cmd, exited chan struct{}, started metav1.Time) {
	err := cmd.Wait()
	code := int32(0)
	if cmd.ProcessState != nil {
		code = int32(cmd.ProcessState.ExitCode())
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int32(ws.Signal())
		}
	}
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	r.mu.Lock()
	r.running, r.ready = false, false
	r.last = &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, StartedAt: started,
		FinishedAt: metav1.Now().Rfc3339Copy(), ContainerID: fmt.Sprintf("process://%d", cmd.Process.Pid)}
	restart := !r.stopping && (r.restartPolicy == corev1.RestartPolicyAlways ||
		(r.restartPolicy == corev1.RestartPolicyOnFailure && code != 0))
	restarts := r.restarts
	if restart {
		r.restarts++
	}
	r.mu.Unlock()
	close(exited)
	klog.Infof("pod %s: pid %d exited (%v)", r.key, cmd.Process.Pid, err)
	r.notify()
	if restart {
		time.Sleep(min(time.Duration(restarts+1)*time.Second, 10*time.Second))
		r.startProcess()
	}
}

// stop ends the process: SIGTERM to its process group, SIGKILL when grace has passed.
func (r *podRun) stop(grace time.Duration) {
	r.mu.Lock()
	cmd, exited, running := r.cmd, r.exited, r.running
	r.mu.Unlock()
	if r.probeStopped != nil {
		select {
		case <-r.probeStopped:
		default:
			close(r.probeStopped)
		}
	}
	if cmd == nil || !running {
		return
	}
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(grace):
	}
	klog.Infof("pod %s: pid %d still running after %v: SIGKILL", r.key, pid, grace)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
	}
}

// probeTarget is what readiness means for the container: an HTTP GET (readinessProbe.httpGet), a TCP
// connection (readinessProbe.tcpSocket, else the first container port, else the echo's HTTP port); neither:
// Ready while the process runs.
type probeTarget struct {
	url  string
	addr string
}

func resolvePort(c *corev1.Container, p intstr.IntOrString) string {
	if p.Type == intstr.String {
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				return strconv.Itoa(int(cp.ContainerPort))
			}
		}
		return p.StrVal
	}
	return strconv.Itoa(p.IntValue())
}

func readinessTarget(c *corev1.Container, ip netip.Addr, env map[string]string) probeTarget {
	if p := c.ReadinessProbe; p != nil {
		if p.HTTPGet != nil {
			return probeTarget{url: fmt.Sprintf("http://%s%s", net.JoinHostPort(ip.String(), resolvePort(c, p.HTTPGet.Port)), p.HTTPGet.Path)}
		}
		if p.TCPSocket != nil {
			return probeTarget{addr: net.JoinHostPort(ip.String(), resolvePort(c, p.TCPSocket.Port))}
		}
	}
	for _, cp := range c.Ports {
		if cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP {
			return probeTarget{addr: net.JoinHostPort(ip.String(), strconv.Itoa(int(cp.ContainerPort)))}
		}
	}
	port := env["HTTP_PORT"]
	if port == "" {
		port = "3000"
	}
	return probeTarget{addr: net.JoinHostPort(ip.String(), port)}
}

func (t probeTarget) check() bool {
	if t.url == "" && t.addr == "" { // no probe: Ready while running
		return true
	}
	if t.url != "" {
		client := http.Client{Timeout: time.Second}
		resp, err := client.Get(t.url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode >= 200 && resp.StatusCode < 400
	}
	conn, err := net.DialTimeout("tcp", t.addr, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func (r *podRun) probeLoop() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-r.probeStopped:
			return
		case <-t.C:
		}
		r.mu.Lock()
		running := r.running
		r.mu.Unlock()
		ok := running && r.probe.check()
		r.mu.Lock()
		changed := r.running && r.ready != ok
		if changed {
			r.ready = ok
		}
		r.mu.Unlock()
		if changed {
			r.notify()
		}
	}
}

func (r *podRun) alreadyWritten(s corev1.PodStatus) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastWritten != nil && equality.Semantic.DeepEqual(*r.lastWritten, s)
}

func (r *podRun) written(s corev1.PodStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastWritten = s.DeepCopy()
}

// podStatus is the pod's status as this run sees it; conditions keep their transition times while unchanged.
func (r *podRun) podStatus(pod *corev1.Pod) corev1.PodStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	cs := corev1.ContainerStatus{Name: r.container, Image: r.image, ImageID: "process://" + r.image,
		RestartCount: r.restarts}
	if len(r.argv) > 0 {
		cs.ImageID = "process://" + r.argv[0]
	}
	phase := corev1.PodPending
	switch {
	case r.waiting != nil:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: r.waiting.reason, Message: r.waiting.message}
	case r.running:
		phase = corev1.PodRunning
		started := true
		cs.Started, cs.Ready = &started, r.ready
		cs.ContainerID = fmt.Sprintf("process://%d", r.cmd.Process.Pid)
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: r.startedAt}
	case r.last != nil && !r.stopping && r.restartPolicy != corev1.RestartPolicyNever &&
		!(r.restartPolicy == corev1.RestartPolicyOnFailure && r.last.ExitCode == 0):
		phase = corev1.PodRunning
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("the process exited with %d; restarting", r.last.ExitCode)}
	case r.last != nil:
		phase = corev1.PodSucceeded
		if r.last.ExitCode != 0 {
			phase = corev1.PodFailed
		}
		cs.State.Terminated = r.last.DeepCopy()
		cs.ContainerID = r.last.ContainerID
	default:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	if r.last != nil && cs.State.Terminated == nil {
		cs.LastTerminationState.Terminated = r.last.DeepCopy()
	}
	status := corev1.PodStatus{Phase: phase, StartTime: &r.startTime, QOSClass: pod.Status.QOSClass,
		ContainerStatuses: []corev1.ContainerStatus{cs}}
	if r.ip.IsValid() {
		status.PodIP, status.PodIPs = r.ip.String(), []corev1.PodIP{{IP: r.ip.String()}}
		status.HostIP, status.HostIPs = r.hostIP.String(), []corev1.HostIP{{IP: r.hostIP.String()}}
	}
	ready := corev1.ConditionFalse
	if cs.Ready {
		ready = corev1.ConditionTrue
	}
	readyToStart := corev1.ConditionFalse
	if r.ip.IsValid() {
		readyToStart = corev1.ConditionTrue
	}
	reason := ""
	if ready == corev1.ConditionFalse {
		reason = "ContainersNotReady"
	}
	now := metav1.Now().Rfc3339Copy()
	condition := func(t corev1.PodConditionType, s corev1.ConditionStatus, reason string) corev1.PodCondition {
		for _, c := range pod.Status.Conditions {
			if c.Type == t && c.Status == s && c.Reason == reason {
				return c
			}
		}
		return corev1.PodCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: now}
	}
	status.Conditions = []corev1.PodCondition{
		condition(corev1.PodReadyToStartContainers, readyToStart, ""),
		condition(corev1.PodInitialized, corev1.ConditionTrue, ""),
		condition(corev1.PodReady, ready, reason),
		condition(corev1.ContainersReady, ready, reason),
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			status.Conditions = append(status.Conditions, c)
		}
	}
	return status
}
