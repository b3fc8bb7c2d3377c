package main

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestGatewayCommandRewritesMountedPathsAndNamesTheServiceAccountDir(t *testing.T) {
	mounts := map[string]string{
		"/etc/mirrorgate/admin": "/state/pods/p/volumes/admin-token",
		serviceAccountMountPath: "/state/pods/p/volumes/kube-api-access-x",
		"/etc/mirrorgate":       "/state/pods/p/volumes/other",
	}
	c := &corev1.Container{Image: "registry.example.com/team/mirrorgate:0.1.0",
		Args: []string{"--admin-token-file=/etc/mirrorgate/admin/token", "--leader-elect", "--log-level=info",
			"/etc/mirrorgate/config.yaml"}}
	if !isMirrorgateImage(c.Image) || isMirrorgateImage("gcr.io/k8s-staging-gateway-api/echo-basic:v1") {
		t.Fatal("image mapping")
	}
	argv, err := gatewayCommand(c, "/build/mirrorgate", "/build/mirrorgate-echo", mounts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/build/mirrorgate", "--service-account-dir=/state/pods/p/volumes/kube-api-access-x",
		"--admin-token-file=/state/pods/p/volumes/admin-token/token", "--leader-elect", "--log-level=info",
		"/state/pods/p/volumes/other/config.yaml"}
	if !reflect.DeepEqual(argv, want) {
		t.Errorf("argv %q, want %q", argv, want)
	}
	// The echo of the same image; anything else is refused with the reason.
	c.Command, c.Args = []string{"/usr/local/bin/mirrorgate-echo"}, []string{"--listen", "0.0.0.0:3000"}
	if argv, err = gatewayCommand(c, "/build/mirrorgate", "/build/mirrorgate-echo", nil); err != nil ||
		!reflect.DeepEqual(argv, []string{"/build/mirrorgate-echo", "--listen", "0.0.0.0:3000"}) {
		t.Errorf("echo: %q, %v", argv, err)
	}
	c.Command = []string{"sh", "-c", "true"}
	if _, err = gatewayCommand(c, "/build/mirrorgate", "", nil); err == nil {
		t.Error("sh: no error")
	}
	// Without the binary the pod waits, saying why.
	c.Command = nil
	if _, err = gatewayCommand(c, "", "", nil); err == nil {
		t.Error("no --mirrorgate-binary: no error")
	}
}
