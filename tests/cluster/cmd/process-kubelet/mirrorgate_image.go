package main

import (
	"path"

	corev1 "k8s.io/api/core/v1"
)

// mirrorgate's own image (charts/mirrorgate's image.repository, "mirrorgate" by default, or wherever a user
// pushed it: any repository whose last part is "mirrorgate") runs the gateway binary with the container's
// arguments, as the image's ENTRYPOINT does; a command naming mirrorgate-echo runs the echo, which the image
// carries too.

const serviceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

func isMirrorgateImage(image string) bool {
	return path.Base(imageRepository(image)) == "mirrorgate"
}

// gatewayCommand is the command line for a container of mirrorgate's image: its command (the ENTRYPOINT,
// /usr/local/bin/mirrorgate, when empty) mapped to the local binary, and its args with paths under the
// volumes' mountPaths rewritten. The service account's directory cannot be mounted where mirrorgate looks
// for it, so --service-account-dir names the directory that stands for it: the process-kubelet's stand-in
// for that mount (docs/cluster.md).
func gatewayCommand(c *corev1.Container, gatewayBin, echoBin string, mounts map[string]string) ([]string, error) {
	program, args := "mirrorgate", append(append([]string{}, c.Command...), c.Args...)
	if len(c.Command) > 0 {
		program, args = path.Base(c.Command[0]), args[1:]
	}
	var argv []string
	switch program {
	case "mirrorgate":
		if gatewayBin == "" {
			return nil, &unmapped{"ImageNotMapped", c.Image + " maps to mirrorgate, but no --mirrorgate-binary (MG_GATEWAY_BIN) was given"}
		}
		argv = []string{gatewayBin}
		if dir, ok := mounts[serviceAccountMountPath]; ok {
			argv = append(argv, "--service-account-dir="+dir)
		}
	case "mirrorgate-echo":
		if echoBin == "" {
			return nil, &unmapped{"ImageNotMapped", c.Image + " runs mirrorgate-echo, but no --echo-binary (MG_ECHO_BIN) was given"}
		}
		argv = []string{echoBin}
	default:
		return nil, &unmapped{"ImageNotMapped", "process-kubelet runs only mirrorgate and mirrorgate-echo of " +
			c.Image + ", not " + c.Command[0]}
	}
	for _, a := range args {
		argv = append(argv, hostArg(a, mounts))
	}
	return argv, nil
}

// prepareGateway finishes agent.prepare for mirrorgate's image: the command line above, the environment
// with its paths rewritten, readiness from the container's probe (the chart's GET /ready on the admin port).
func (a *agent) prepareGateway(pod *corev1.Pod, c *corev1.Container, run *podRun, env, mounts map[string]string) error {
	argv, err := gatewayCommand(c, a.cfg.gatewayBin, a.cfg.echoBin, mounts)
	if err != nil {
		return err
	}
	rewritePaths(env, mounts)
	run.argv, run.env = argv, env
	run.restartPolicy = pod.Spec.RestartPolicy
	run.probe = readinessTarget(c, run.ip, env)
	return nil
}
