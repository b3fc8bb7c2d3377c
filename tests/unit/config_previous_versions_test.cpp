// On a reload, an object whose new version is invalid keeps the version already running; a new invalid
// object stays out.

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config/previous_versions.h"
#include "fixtures.h"

namespace mg::config {
namespace {

const std::string kBadRoute = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefz: [{name: s1, port: 80}]}]
)";

std::string gateway_with_bad_route() {
  return test::join_docs({test::kGatewayClass, test::kGateway, kBadRoute});
}

TEST(PreviousVersions, InvalidChangeKeepsTheRunningVersion) {
  const ObjectSet previous = load_string(test::base_manifests(), "a.yaml");
  LoadResult next = load_string_partial(gateway_with_bad_route(), "a.yaml");
  ASSERT_EQ(next.problems.size(), 1u);
  keep_previous_versions(previous, next.objects, next.problems);
  ASSERT_EQ(next.objects.http_routes.size(), 1u);
  EXPECT_EQ(next.objects.http_routes[0].rules[0].backend_refs[0].ref.name, "s1");
  EXPECT_TRUE(next.objects.services.empty()) << "a Service deleted from the file stays deleted";
  EXPECT_NE(next.problems[0].message.find("backendRefz: unknown field (previous version kept)"),
            std::string::npos)
      << next.problems[0].message;
}

TEST(PreviousVersions, NewInvalidObjectStaysOut) {
  LoadResult next = load_string_partial(gateway_with_bad_route(), "a.yaml");
  keep_previous_versions(ObjectSet{}, next.objects, next.problems);
  EXPECT_TRUE(next.objects.http_routes.empty());
  EXPECT_EQ(next.problems[0].message.find("previous version kept"), std::string::npos);
}

TEST(PreviousVersions, YamlSyntaxErrorKeepsEveryObjectOfItsFile) {
  test::TempDir dir;
  dir.write("a.yaml", test::join_docs({test::kGatewayClass, test::kGateway}));
  dir.write("b.yaml", test::join_docs({test::kService, test::kRoute}));
  const ObjectSet previous = load_path(dir.path());
  dir.write("b.yaml", "kind: [unclosed\n");
  LoadResult next = load_path_partial(dir.path());
  ASSERT_EQ(next.problems.size(), 1u);
  keep_previous_versions(previous, next.objects, next.problems);
  EXPECT_EQ(next.objects.services.size(), 1u);
  EXPECT_EQ(next.objects.http_routes.size(), 1u);
  EXPECT_EQ(next.objects.gateways.size(), 1u);
  EXPECT_NE(next.problems[0].message.find("(previous version kept)"), std::string::npos);
}

TEST(PreviousVersions, DuplicateKeepsTheFirstDefinitionOnly) {
  const ObjectSet previous = load_string(test::base_manifests(), "a.yaml");
  LoadResult next = load_string_partial(test::base_manifests() + test::join_docs({test::kService}), "a.yaml");
  ASSERT_EQ(next.problems.size(), 1u);
  keep_previous_versions(previous, next.objects, next.problems);
  EXPECT_EQ(next.objects.services.size(), 1u);
  EXPECT_EQ(next.problems[0].message.find("previous version kept"), std::string::npos);
}

}  // namespace
}  // namespace mg::config
