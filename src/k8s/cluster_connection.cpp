#include "k8s/cluster_connection.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

namespace mg::k8s {
namespace {

std::optional<std::string> read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string read_token_file(const std::string& path) {
  std::string token = read_text(path).value_or("");
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  return token;
}

namespace {

std::string decode_base64(const std::string& text, const std::string& what) {
  std::string compact;
  for (char c : text)
    if (c != '\n' && c != '\r' && c != ' ') compact += c;
  if (compact.size() % 4 != 0) throw KubeconfigError(what + ": not valid base64");
  std::string out(compact.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(compact.data()),
                                static_cast<int>(compact.size()));
  if (n < 0) throw KubeconfigError(what + ": not valid base64");
  size_t padding = 0;
  if (!compact.empty() && compact.back() == '=') ++padding;
  if (compact.size() > 1 && compact[compact.size() - 2] == '=') ++padding;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

std::string scalar(const YAML::Node& map, const char* key) {
  const YAML::Node n = map[key];
  return n.IsDefined() && n.IsScalar() ? n.Scalar() : std::string();
}

// Finds the entry of a kubeconfig list (clusters, users, contexts) with that name; returns its body.
YAML::Node named_entry(const YAML::Node& root, const char* list, const char* body, const std::string& name) {
  const YAML::Node entries = root[list];
  if (entries.IsDefined() && entries.IsSequence())
    for (const auto& e : entries)
      if (e.IsMap() && scalar(e, "name") == name && e[body].IsMap()) return e[body];
  return YAML::Node(YAML::NodeType::Undefined);
}

// "<key>-data" (base64) wins over "<key>" (a file path), as in client-go.
std::string pem_field(const YAML::Node& map, const std::string& key, const std::filesystem::path& dir,
                      const std::string& what) {
  const std::string data = scalar(map, (key + "-data").c_str());
  if (!data.empty()) return decode_base64(data, what + " " + key + "-data");
  const std::string file = scalar(map, key.c_str());
  if (file.empty()) return "";
  const auto path = std::filesystem::path(file).is_absolute() ? std::filesystem::path(file) : dir / file;
  auto text = read_text(path);
  if (!text) throw KubeconfigError(what + " " + key + ": cannot read " + path.string());
  return *text;
}

}  // namespace

ClusterConnection load_kubeconfig(const std::string& path, const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw KubeconfigError("kubeconfig " + path + ": cannot read the file");
  } catch (const YAML::Exception& e) {
    throw KubeconfigError("kubeconfig " + path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) throw KubeconfigError("kubeconfig " + path + ": not a kubeconfig (expected a map)");
  const std::filesystem::path dir = std::filesystem::absolute(path).parent_path();
  const std::string context_name = context.empty() ? scalar(root, "current-context") : context;
  if (context_name.empty()) throw KubeconfigError("kubeconfig " + path + ": no current-context and no --context");
  const YAML::Node ctx = named_entry(root, "contexts", "context", context_name);
  if (!ctx.IsDefined()) throw KubeconfigError("kubeconfig " + path + ": no context \"" + context_name + "\"");
  const std::string cluster_name = scalar(ctx, "cluster");
  const std::string user_name = scalar(ctx, "user");
  const YAML::Node cluster = named_entry(root, "clusters", "cluster", cluster_name);
  if (!cluster.IsDefined())
    throw KubeconfigError("kubeconfig " + path + ": context \"" + context_name + "\" names cluster \"" +
                          cluster_name + "\", which is not defined");

  ClusterConnection c;
  c.description = "kubeconfig " + path + " (context " + context_name + ")";
  c.server = scalar(cluster, "server");
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  if (c.server.empty()) throw KubeconfigError(c.description + ": cluster \"" + cluster_name + "\" has no server");
  c.insecure_skip_tls_verify = scalar(cluster, "insecure-skip-tls-verify") == "true";
  c.tls_server_name = scalar(cluster, "tls-server-name");
  c.ca_pem = pem_field(cluster, "certificate-authority", dir, c.description + " cluster");
  c.namespace_ = scalar(ctx, "namespace");

  if (!user_name.empty()) {
    const YAML::Node user = named_entry(root, "users", "user", user_name);
    if (!user.IsDefined())
      throw KubeconfigError(c.description + ": context names user \"" + user_name + "\", which is not defined");
    if (user["exec"].IsDefined() || user["auth-provider"].IsDefined())
      throw KubeconfigError(c.description + ": user \"" + user_name +
                            "\" authenticates with an exec or auth-provider plugin, which mirrorgate does not "
                            "run; use a token, a token file or a client certificate");
    const std::string what = c.description + " user";
    c.token = scalar(user, "token");
    const std::string token_file = scalar(user, "tokenFile");
    if (!token_file.empty())
      c.token_file = std::filesystem::path(token_file).is_absolute() ? token_file : (dir / token_file).string();
    c.client_certificate_pem = pem_field(user, "client-certificate", dir, what);
    c.client_key_pem = pem_field(user, "client-key", dir, what);
    c.username = scalar(user, "username");
    c.password = scalar(user, "password");
    if (c.client_certificate_pem.empty() != c.client_key_pem.empty())
      throw KubeconfigError(what + " \"" + user_name + "\": a client certificate needs its key, and a key its certificate");
  }
  return c;
}

std::optional<ClusterConnection> in_cluster_connection(const std::string& secrets_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port) return std::nullopt;
  const std::filesystem::path dir(secrets_dir);
  auto ca = read_text(dir / "ca.crt");
  std::error_code ec;
  if (!ca || !std::filesystem::exists(dir / "token", ec)) return std::nullopt;
  ClusterConnection c;
  const std::string h = host;
  c.server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  c.ca_pem = *ca;
  c.token_file = (dir / "token").string();
  if (auto ns = read_text(dir / "namespace")) c.namespace_ = *ns;
  c.description = "in-cluster service account (" + c.server + ")";
  return c;
}

}  // namespace mg::k8s
