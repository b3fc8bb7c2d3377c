package main

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// The suite's tls-backend pods name a Secret it creates only after them: the first try is a config error,
// which is retried, and a try once the Secret exists writes the volume.
func TestMissingSecretIsAConfigErrorThatALaterTryGetsPast(t *testing.T) {
	client := fake.NewClientset()
	a := &agent{client: client}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "tls-backend", Namespace: "infra"}, Spec: corev1.PodSpec{
		Volumes: []corev1.Volume{{Name: "secret-volume", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: "tls-checks-certificate"}}}},
		Containers: []corev1.Container{{Name: "c", VolumeMounts: []corev1.VolumeMount{
			{Name: "secret-volume", MountPath: "/etc/secret-volume"}}}}}}
	dir := t.TempDir()
	_, err := a.writeVolumes(context.Background(), pod, &pod.Spec.Containers[0], dir)
	if !isConfigError(err) {
		t.Fatalf("missing Secret: %v, want CreateContainerConfigError (retried)", err)
	}
	if isConfigError(&unmapped{"ImageNotMapped", "x"}) {
		t.Errorf("an unmapped image is retried")
	}
	_, err = client.CoreV1().Secrets("infra").Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "tls-checks-certificate", Namespace: "infra"},
		Data:       map[string][]byte{"crt": []byte("pem")}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := a.writeVolumes(context.Background(), pod, &pod.Spec.Containers[0], dir)
	if err != nil || hostPath("/etc/secret-volume/crt", mounts) != dir+"/volumes/secret-volume/crt" {
		t.Errorf("second try: %v, %v", mounts, err)
	}
}
