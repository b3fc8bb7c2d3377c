#pragma once
// Where the API server is and how to prove who we are to it: from a kubeconfig file (the current
// context, or a named one) or from the service account a pod runs as, as client-go's
// clientcmd and rest.InClusterConfig do.

#include <optional>
#include <stdexcept>
#include <string>

namespace mg::k8s {

struct ClusterConnection {
  std::string server;  // https://host:port, no trailing slash
  // The cluster CA as PEM (kubeconfig certificate-authority-data, or the file's contents); empty: the
  // system's trust store.
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // SNI and name to verify, when not the server's host
  // Credentials: a bearer token (read from token_file on each connection when set, because projected
  // service-account tokens rotate), and/or a client certificate and key as PEM.
  std::string token;
  std::string token_file;
  std::string client_certificate_pem;
  std::string client_key_pem;
  std::string username, password;  // basic auth, rarely used
  std::string namespace_;          // the context's (or the pod's) namespace; empty when not given
  std::string description;         // where it came from, for log lines: "kubeconfig X (context Y)"
};

// A kubeconfig that cannot be used: missing file, no such context, a referenced file unreadable.
struct KubeconfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads a kubeconfig. CONTEXT empty: its current-context. Relative file paths are resolved against the
// kubeconfig's directory. Throws KubeconfigError with a one-line reason.
ClusterConnection load_kubeconfig(const std::string& path, const std::string& context = "");

// The bearer token in a token file (ClusterConnection::token_file), without the trailing newline; read
// for every connection, since the kubelet rotates a service account's. Empty when it cannot be read.
std::string read_token_file(const std::string& path);

// The pod's service account (KUBERNETES_SERVICE_HOST/PORT, and the token, CA and namespace under
// /var/run/secrets/kubernetes.io/serviceaccount), or nothing when not running in a pod.
std::optional<ClusterConnection> in_cluster_connection(
    const std::string& secrets_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace mg::k8s
