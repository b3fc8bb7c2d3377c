// kube-controlplane is the local Kubernetes control plane that mirrorgate's tests run against: the real
// kube-apiserver (k8s.io/kubernetes/cmd/kube-apiserver/app) and a real etcd (go.etcd.io/etcd/server/v3/embed),
// plus the small chores around them (certificates, kubeconfigs, compaction) done with kubeadm's and etcd's own
// packages. scripts/cluster.sh drives it; docs/cluster.md says what runs and why.
//
// One binary, one subcommand per process:
//
//	kube-controlplane pki --dir DIR --api-port N         CA, serving and admin certs, SA keys, admin.kubeconfig
//	kube-controlplane etcd --dir DIR --client-port N --peer-port N
//	kube-controlplane apiserver [kube-apiserver flags]   exactly kube-apiserver's command line
//	kube-controlplane kubeconfig --dir DIR --api-port N --user U [--group G]...   a client-cert kubeconfig on stdout
//	kube-controlplane compact --client-port N            compact etcd at its current revision
//
// etcd and the API server are separate processes of this binary so that the API server can be stopped and
// started again (a test does that under traffic) while etcd keeps the data: kube-apiserver cannot be restarted
// inside one process (its signal context, metrics and feature gates are process-global).
package main

import (
	"fmt"
	"os"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kube-controlplane pki|etcd|apiserver|kubeconfig|compact [flags]")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	sub, args := os.Args[1], os.Args[2:]
	var err error
	switch sub {
	case "pki":
		err = runPKI(args)
	case "etcd":
		err = runEtcd(args)
	case "apiserver":
		os.Exit(runAPIServer(args))
	case "kubeconfig":
		err = runKubeconfig(args)
	case "compact":
		err = runCompact(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kube-controlplane %s: %v\n", sub, err)
		os.Exit(1)
	}
}
