#pragma once
// Process-wide settings from the command line. Each has a default an Envoy or nginx user would expect.
// The downstream session's and the mirror's settings are their own structs, which the workers hand
// to them; the rest is the server's.

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "mirror/mirror_context.h"
#include "proxy/session_context.h"
#include "stats/access_log.h"

namespace mg::server {

// Where objects come from when not from files: a Kubernetes API server (k8s/kubernetes_provider.h).
struct KubernetesOptions {
  bool enabled = false;         // --kubeconfig given, or in a pod without -c
  std::string kubeconfig;       // empty: the pod's service account
  std::string context;          // empty: the kubeconfig's current-context
  // Where the pod's service-account token, ca.crt and namespace are (--service-account-dir): the
  // kubelet's mount point; elsewhere only where a node agent has no mounts (docs/cluster.md).
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::string controller_name = "mirrorgate.io/gateway-controller";
  std::vector<std::string> watch_namespaces;  // empty: all
  std::string publish_service;  // "ns/name" (--publish-service): its load-balancer address in Gateway status
  double api_qps = 50;   // status writes per second (--kube-api-qps), in bursts of up to api_burst
  int api_burst = 100;
  // --leader-elect: replicas elect one to write status, on a Lease (the durations are client-go's).
  bool leader_elect = false;
  std::string leader_elect_namespace;  // empty: the pod's namespace, else "default"
  std::string leader_elect_name = "mirrorgate-leader";
  std::chrono::milliseconds lease_duration{15'000};
  std::chrono::milliseconds renew_deadline{10'000};
  std::chrono::milliseconds retry_period{2'000};
};

struct GatewayOptions {
  std::string config_path;
  KubernetesOptions kubernetes;
  size_t workers = 0;  // 0: one per core
  std::string admin_address = "127.0.0.1:9901";
  std::string admin_token_file;  // --admin-token-file; required off loopback (admin/admin_auth.h)
  std::string access_log = "-";  // "-" stdout, "off", or a file path
  stats::AccessLogFormat access_log_format = stats::AccessLogFormat::kJson;
  std::string log_level = "info";
  // --gateway-address-pool: the IPv4 CIDR whose addresses Gateways that ask for none get (route/address_pool.h).
  std::string gateway_address_pool;

  size_t max_connections_per_worker = 16384;  // beyond: new connections are closed at once (counted)
  std::chrono::milliseconds upstream_idle_timeout{60'000};  // idle pooled upstream connection (nginx's 60 s)
  // Idle connections a worker keeps per backend endpoint (nginx's upstream `keepalive`). Enough for the
  // requests in flight at once: HTTP/2 clients multiplex many, and a smaller pool closes and reopens
  // connections on every burst.
  size_t upstream_max_idle_per_endpoint = 1024;
  std::chrono::milliseconds drain_timeout{5'000};           // SIGTERM: time for in-flight requests
  std::chrono::milliseconds watch_interval{1'000};          // config file polling; 0 = only SIGHUP reloads

  proxy::SessionOptions session;  // client limits and timeouts, upstream timeouts
  mirror::MirrorOptions mirror;   // the --mirror-* defaults
};

}  // namespace mg::server
