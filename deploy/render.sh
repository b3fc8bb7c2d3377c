#!/usr/bin/env bash
# Renders deploy/mirrorgate.yaml, the manifest for `kubectl apply -f` users, from charts/mirrorgate with its
# default values: a Namespace, our CRDs (charts/mirrorgate/crds), then `helm template`. Run it after every
# change to the chart; tests/e2e/test_helm_chart.py fails while the file differs from a fresh render.
#
#   deploy/render.sh         write deploy/mirrorgate.yaml
#   deploy/render.sh -       print it to stdout instead
#
# helm: the one on PATH, else the pinned one of the local control plane (scripts/cluster.sh build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

release=mirrorgate
namespace=mirrorgate-system
out=${1:-deploy/mirrorgate.yaml}

helm=$(command -v helm || true)
if [[ -z $helm ]]; then
  # shellcheck disable=SC2016 # a literal $PATH in the pattern
  bin_dir=$(scripts/cluster.sh env | sed -n 's/^export PATH=\(.*\):\$PATH$/\1/p')
  helm=$bin_dir/helm
  [[ -x $helm ]] || {
    echo "render: no helm on PATH and none in $bin_dir (scripts/cluster.sh build makes one)" >&2
    exit 1
  }
fi

render() {
  cat <<HEADER
# GENERATED FILE, do not edit: deploy/render.sh renders it from charts/mirrorgate (default values) as
#   helm template $release charts/mirrorgate --namespace $namespace
# after a Namespace and the CRDs of charts/mirrorgate/crds. Install the Gateway API CRDs (v1.6.3, standard
# channel) first; see docs/kubernetes.md, "Deploying it". Other values: use the chart.
---
apiVersion: v1
kind: Namespace
metadata:
  name: $namespace
  labels:
    # The pods meet the "restricted" Pod Security Standard.
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
HEADER
  local crd
  for crd in charts/mirrorgate/crds/*.yaml; do
    echo "---"
    echo "# Source: mirrorgate/$(basename "$(dirname "$crd")")/$(basename "$crd")"
    cat "$crd"
  done
  "$helm" template "$release" charts/mirrorgate --namespace "$namespace"
}

if [[ $out == - ]]; then
  render
else
  render >"$out.tmp"
  mv "$out.tmp" "$out"
  echo "render: wrote $out" >&2
fi
