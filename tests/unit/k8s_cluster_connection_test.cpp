// Kubeconfig and in-cluster settings: what client-go's clientcmd would make of the same files.

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "k8s/cluster_connection.h"

namespace mg::k8s {
namespace {

class TempDir {
 public:
  TempDir() : path_(std::filesystem::temp_directory_path() / ("mg-kubeconfig-" + std::to_string(::getpid()) + "-" +
                                                               std::to_string(counter_++))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_ / name;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

constexpr const char* kTwoContexts = R"(apiVersion: v1
kind: Config
current-context: admin
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
- name: other
  cluster:
    server: https://10.0.0.1:443
    certificate-authority: ca.crt
    insecure-skip-tls-verify: true
contexts:
- name: admin
  context: {cluster: local, user: admin, namespace: infra}
- name: robot
  context: {cluster: other, user: robot}
users:
- name: admin
  user:
    client-certificate-data: Y2VydA==
    client-key: admin.key
- name: robot
  user:
    tokenFile: token
)";

TEST(K8sKubeconfig, CurrentContextWithEmbeddedCaAndCertificate) {
  TempDir dir;
  dir.write("admin.key", "KEY PEM");
  const auto c = load_kubeconfig(dir.write("config", kTwoContexts).string());
  EXPECT_EQ(c.server, "https://127.0.0.1:6443");  // trailing slash dropped: paths are appended
  EXPECT_EQ(c.ca_pem, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_EQ(c.client_certificate_pem, "cert");
  EXPECT_EQ(c.client_key_pem, "KEY PEM");  // a relative path, from the kubeconfig's directory
  EXPECT_EQ(c.namespace_, "infra");
  EXPECT_FALSE(c.insecure_skip_tls_verify);
}

TEST(K8sKubeconfig, NamedContextWithTokenFileAndCaFile) {
  TempDir dir;
  dir.write("ca.crt", "CA PEM");
  const auto path = dir.write("config", kTwoContexts);
  const auto c = load_kubeconfig(path.string(), "robot");
  EXPECT_EQ(c.server, "https://10.0.0.1:443");
  EXPECT_EQ(c.ca_pem, "CA PEM");
  EXPECT_TRUE(c.insecure_skip_tls_verify);
  EXPECT_EQ(c.token_file, (path.parent_path() / "token").string());
  EXPECT_NE(c.description.find("context robot"), std::string::npos);
}

TEST(K8sKubeconfig, ProblemsAreOneLineErrors) {
  TempDir dir;
  const auto path = dir.write("config", kTwoContexts).string();
  EXPECT_THROW(load_kubeconfig(path, "nope"), KubeconfigError);
  try {
    load_kubeconfig(path);  // admin.key is missing
    FAIL();
  } catch (const KubeconfigError& e) {
    EXPECT_NE(std::string(e.what()).find("client-key: cannot read"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_kubeconfig((dir.write("x", "").parent_path() / "missing").string()), KubeconfigError);
  const auto exec = dir.write("exec", R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {exec: {command: aws}}}]
)");
  try {
    load_kubeconfig(exec.string());
    FAIL();
  } catch (const KubeconfigError& e) {
    EXPECT_NE(std::string(e.what()).find("exec or auth-provider plugin"), std::string::npos) << e.what();
  }
}

TEST(K8sInCluster, ServiceAccountFilesAndEnvironment) {
  TempDir dir;
  dir.write("ca.crt", "CA");
  dir.write("token", "t0ken\n");
  dir.write("namespace", "mirrorgate-system");
  const auto secrets = dir.write("ca.crt", "CA").parent_path().string();
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_FALSE(in_cluster_connection(secrets));
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  const auto c = in_cluster_connection(secrets);
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->server, "https://10.96.0.1:443");
  EXPECT_EQ(c->ca_pem, "CA");
  EXPECT_EQ(c->token_file, secrets + "/token");  // read per connection: projected tokens rotate
  EXPECT_EQ(c->namespace_, "mirrorgate-system");
}

}  // namespace
}  // namespace mg::k8s
