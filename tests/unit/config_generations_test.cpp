// metadata.generation for objects read from files: 1 when new, +1 per spec change, kept otherwise.

#include <gtest/gtest.h>

#include "config/generations.h"
#include "config/loader.h"

namespace mg::config {
namespace {

std::string route_yaml(std::string_view path, std::string_view extra_metadata = "") {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: r\n" +
         std::string(extra_metadata) +
         "spec:\n  parentRefs: [{name: gw}]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: " +
         std::string(path) + "}}]\n";
}

TEST(Generations, NewObjectsStartAtOne) {
  ObjectSet first = load_string(route_yaml("/a"), "first");
  carry_generations(ObjectSet{}, first);
  EXPECT_EQ(first.http_routes.at(0).metadata.generation, 1);
}

TEST(Generations, SpecChangeBumpsAndUnchangedSpecKeeps) {
  ObjectSet v1 = load_string(route_yaml("/a"), "v1");
  ObjectSet v2 = load_string(route_yaml("/b"), "v2");
  carry_generations(v1, v2);
  EXPECT_EQ(v2.http_routes.at(0).metadata.generation, 2);
  ObjectSet v3 = load_string(route_yaml("/b"), "v3");
  carry_generations(v2, v3);
  EXPECT_EQ(v3.http_routes.at(0).metadata.generation, 2);
  ObjectSet v4 = load_string(route_yaml("/c"), "v4");
  carry_generations(v3, v4);
  EXPECT_EQ(v4.http_routes.at(0).metadata.generation, 3);
}

TEST(Generations, MetadataChangeIsNotASpecChange) {
  ObjectSet v1 = load_string(route_yaml("/a"), "v1");
  ObjectSet v2 = load_string(route_yaml("/a", "  labels: {team: blue}\n"), "v2");
  carry_generations(v1, v2);
  EXPECT_EQ(v2.http_routes.at(0).metadata.generation, 1);
}

TEST(Generations, AGenerationTheManifestSetsIsKept) {
  ObjectSet v1 = load_string(route_yaml("/a"), "v1");
  ObjectSet v2 = load_string(route_yaml("/b", "  generation: 7\n"), "v2");
  carry_generations(v1, v2);
  EXPECT_EQ(v2.http_routes.at(0).metadata.generation, 7);
}

TEST(Generations, ObjectsAreMatchedByNamespaceAndName) {
  ObjectSet v1 = load_string(route_yaml("/a"), "v1");
  ObjectSet v2 = load_string(route_yaml("/b", "  namespace: other\n"), "v2");
  carry_generations(v1, v2);
  EXPECT_EQ(v2.http_routes.at(0).metadata.generation, 1);  // a new object, not a change of default/r
}

}  // namespace
}  // namespace mg::config
