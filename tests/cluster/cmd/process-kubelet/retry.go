package main

import (
	"context"
	"errors"
	"time"
)

// configRetryDelay is how long a pod whose environment or volumes could not be made waits before it is
// prepared again, as a kubelet retries: the Secret or ConfigMap it names often comes moments after the
// Deployment (the conformance suite creates its certificates' Secrets after its base manifests).
const configRetryDelay = 2 * time.Second

func isConfigError(err error) bool {
	var u *unmapped
	return errors.As(err, &u) && u.reason == "CreateContainerConfigError"
}

// retryLater drops the failed run (its address and files) after configRetryDelay and syncs the pod again,
// which prepares it anew; a run replaced or finished meanwhile is left alone.
func (a *agent) retryLater(ctx context.Context, key string, run *podRun) {
	time.AfterFunc(configRetryDelay, func() {
		if ctx.Err() != nil || a.lookup(key) != run {
			return
		}
		a.finish(ctx, key, run, 0, false)
		a.queue.Add(key)
	})
}
