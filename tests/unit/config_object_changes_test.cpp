// Which kinds a new snapshot changed: exact (metadata counts, objects built in code count), and blind to
// where an object was read from.

#include "config/object_changes.h"

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "fixtures.h"

namespace mg::config {
namespace {

using Kinds = std::vector<std::string_view>;

const std::string kNamespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns, labels: {team: a}}\n";

std::string manifests(std::string_view slice = test::kEndpointSlice, const std::string& ns = kNamespace) {
  return test::join_docs({test::kGatewayClass, test::kGateway, test::kService, test::kRoute, slice, ns});
}

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(ObjectChanges, TheSameObjectsChangeNoKind) {
  EXPECT_EQ(changed_kinds(load_string(manifests(), "a.yaml"), load_string(manifests(), "a.yaml")), Kinds{});
}

TEST(ObjectChanges, AnEndpointEditChangesOnlyEndpointSlices) {
  const auto edited = replaced(std::string(test::kEndpointSlice), "10.0.0.1", "10.0.0.2");
  EXPECT_EQ(changed_kinds(load_string(manifests(), "a.yaml"), load_string(manifests(edited), "a.yaml")),
            Kinds{"EndpointSlice"});
}

TEST(ObjectChanges, MetadataIsCompared) {
  // Labels are no spec (the generation stays), but a listener's allowedRoutes selects namespaces by them.
  const auto relabelled = replaced(kNamespace, "team: a", "team: b");
  EXPECT_EQ(changed_kinds(load_string(manifests(), "a.yaml"),
                          load_string(manifests(test::kEndpointSlice, relabelled), "a.yaml")),
            Kinds{"Namespace"});
}

TEST(ObjectChanges, AResourceVersionAloneIsNoChange) {
  // The API server bumps it on every write, a status write included; a label edit with it still counts.
  const auto at = [](std::string_view version, std::string_view team) {
    return "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns, resourceVersion: \"" + std::string(version) +
           "\", labels: {team: " + std::string(team) + "}}\n";
  };
  const auto before = load_string(manifests(test::kEndpointSlice, at("41", "a")), "a.yaml");
  EXPECT_EQ(changed_kinds(before, load_string(manifests(test::kEndpointSlice, at("42", "a")), "a.yaml")), Kinds{});
  EXPECT_EQ(changed_kinds(before, load_string(manifests(test::kEndpointSlice, at("43", "b")), "a.yaml")),
            Kinds{"Namespace"});
}

TEST(ObjectChanges, ObjectsChangedInCodeAreCompared) {
  // No loader, so no spec fingerprint changes: the values themselves are compared.
  const ObjectSet before = load_string(manifests(), "a.yaml");
  ObjectSet after = before;
  after.services[0].ports[0].port = 81;
  after.endpoint_slices[0].endpoints[0].conditions.ready = false;
  EXPECT_EQ(changed_kinds(before, after), (Kinds{"Service", "EndpointSlice"}));
}

TEST(ObjectChanges, WhereAnObjectWasReadIsNoChange) {
  // Another file, and every document two lines further down.
  const ObjectSet moved = load_string("# moved\n\n" + manifests(), "b.yaml");
  EXPECT_EQ(changed_kinds(load_string(manifests(), "a.yaml"), moved), Kinds{});
}

}  // namespace
}  // namespace mg::config
