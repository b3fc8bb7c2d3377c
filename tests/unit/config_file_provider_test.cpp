// The file provider delivers a complete new object set when a file changes and on SIGHUP.

#include <gtest/gtest.h>

#include <csignal>
#include <chrono>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "config/loader.h"
#include "fixtures.h"
#include "server/file_provider.h"

namespace mg::server {
namespace {

using namespace std::chrono_literals;

struct Delivery {
  config::ObjectSet objects;
  std::vector<config::ConfigProblem> problems;
};

class FileProviderTest : public ::testing::Test {
 protected:
  // Runs the loop until `count` sets have arrived, for at most 5 s.
  bool wait_for_deliveries(size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (deliveries.size() < count && std::chrono::steady_clock::now() < deadline) io.run_for(10ms);
    return deliveries.size() >= count;
  }

  void start(FileProvider& provider) {
    provider.start([this](config::ObjectSet objects, std::vector<config::ConfigProblem> problems) {
      deliveries.push_back({std::move(objects), std::move(problems)});
    });
  }

  test::TempDir dir;
  asio::io_context io;
  std::vector<Delivery> deliveries;
};

TEST_F(FileProviderTest, DeliversTheFirstSetBeforeStartReturns) {
  dir.write("a.yaml", test::base_manifests());
  FileProvider provider(io, dir.path(), 0ms);
  start(provider);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].objects.http_routes.size(), 1u);
  EXPECT_TRUE(deliveries[0].problems.empty());
}

TEST_F(FileProviderTest, DeliversANewSetAfterAFileChanges) {
  dir.write("a.yaml", test::join_docs({test::kGatewayClass, test::kGateway}));
  FileProvider provider(io, dir.path(), 20ms);
  start(provider);
  dir.replace("b.yaml", test::join_docs({test::kService, test::kRoute}));
  ASSERT_TRUE(wait_for_deliveries(2));
  EXPECT_EQ(deliveries[1].objects.gateways.size(), 1u);
  EXPECT_EQ(deliveries[1].objects.http_routes.size(), 1u);
  // An invalid change to the route keeps its running version and says why.
  dir.replace("b.yaml", test::join_docs({test::kService}) +
                           "---\nkind: HTTPRoute\napiVersion: gateway.networking.k8s.io/v1\n"
                           "metadata: {name: r, namespace: ns}\nspec: {rulez: []}\n");
  ASSERT_TRUE(wait_for_deliveries(3));
  ASSERT_EQ(deliveries[2].problems.size(), 1u);
  EXPECT_NE(deliveries[2].problems[0].message.find("spec.rulez: unknown field (previous version kept)"),
            std::string::npos)
      << deliveries[2].problems[0].message;
  EXPECT_EQ(deliveries[2].objects.http_routes.size(), 1u);
  provider.stop();
}

TEST_F(FileProviderTest, DeliversANewSetOnSighup) {
  dir.write("a.yaml", test::base_manifests());
  FileProvider provider(io, dir.path(), 0ms);  // no polling: only SIGHUP reloads
  start(provider);
  ASSERT_EQ(::raise(SIGHUP), 0);
  ASSERT_TRUE(wait_for_deliveries(2));
  EXPECT_EQ(deliveries[1].objects.http_routes.size(), 1u);
  provider.stop();
}

TEST_F(FileProviderTest, MissingPathThrowsAtStart) {
  FileProvider provider(io, dir.path() / "nope", 0ms);
  EXPECT_THROW(start(provider), config::ConfigError);
}

}  // namespace
}  // namespace mg::server
