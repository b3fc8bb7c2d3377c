// kube-controller-manager of the test cluster: the release's own command (k8s.io/kubernetes/cmd/kube-controller-manager,
// unchanged), so Deployments become ReplicaSets and pods, ready pods become EndpointSlices, deleted Namespaces
// are emptied and owned objects garbage-collected the way they are in every cluster. scripts/cluster.sh gives it
// its flags (docs/cluster.md).
package main

import (
	"os"
	_ "time/tzdata" // as cmd/kube-controller-manager: time zones for CronJob

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // as cmd/kube-controller-manager
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // as cmd/kube-controller-manager
	_ "k8s.io/component-base/metrics/prometheus/version"  // as cmd/kube-controller-manager
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
