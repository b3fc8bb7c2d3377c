package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata" // as cmd/kube-apiserver: time zones for CronJob

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // as cmd/kube-apiserver
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // as cmd/kube-apiserver
	_ "k8s.io/component-base/metrics/prometheus/version"  // as cmd/kube-apiserver
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

// apiserverFlags is the kube-apiserver command line of the test cluster, close to what kubeadm writes into
// its static pod manifest, on loopback.
func apiserverFlags(dir string, port, etcdPort int) []string {
	pki := func(name string) string { return filepath.Join(pkiDir(dir), name) }
	return []string{
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", etcdPort),
		"--tls-cert-file=" + pki("apiserver.crt"),
		"--tls-private-key-file=" + pki("apiserver.key"),
		"--client-ca-file=" + pki("ca.crt"),
		// RBAC only: the Node authorizer serves real kubelets; the process-kubelet's user has a ClusterRole
		// of its own (scripts/cluster.sh).
		"--authorization-mode=RBAC",
		// The defaults (NamespaceLifecycle, LimitRanger, ServiceAccount, ResourceQuota, PodSecurity, the
		// admission webhooks and policies, ...) plus what kubeadm adds; none needs another component to admit
		// the objects the tests write.
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pki("sa.pub"),
		"--service-account-signing-key-file=" + pki("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		// The endpoint reconciler would publish 127.0.0.1 as the "kubernetes" Service's endpoint, which
		// validation refuses (loopback), and log that error every 10 s.
		"--endpoint-reconciler-type=none",
		// The kubelet endpoint (the process-kubelet's, for pods/log): dialled at the Node's InternalIP, its
		// serving certificate checked against the cluster CA, as kubeadm's --kubelet-* flags do.
		"--kubelet-client-certificate=" + pki("apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + pki("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority=" + pki("ca.crt"),
		"--kubelet-preferred-address-types=InternalIP",
		// The aggregation layer, as kubeadm configures it.
		"--requestheader-client-ca-file=" + pki("front-proxy-ca.crt"),
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + pki("front-proxy-client.crt"),
		"--proxy-client-key-file=" + pki("front-proxy-client.key"),
	}
}

// runAPIServer runs kube-apiserver (the release's own command, options and defaults) with the test cluster's
// flags; arguments after "--" are passed on and, coming last, override them.
func runAPIServer(args []string) int {
	fs := flag.NewFlagSet("apiserver", flag.ExitOnError)
	dir := fs.String("dir", "", "cluster state directory (pki/ from the pki subcommand)")
	port := fs.Int("api-port", 0, "secure port on 127.0.0.1")
	etcdPort := fs.Int("etcd-client-port", 0, "etcd client port on 127.0.0.1")
	_ = fs.Parse(args)
	if *dir == "" || *port == 0 || *etcdPort == 0 {
		fmt.Fprintln(os.Stderr, "kube-controlplane apiserver: --dir, --api-port and --etcd-client-port are required")
		return 2
	}
	command := app.NewAPIServerCommand()
	command.SetArgs(append(apiserverFlags(*dir, *port, *etcdPort), fs.Args()...))
	return cli.Run(command)
}
