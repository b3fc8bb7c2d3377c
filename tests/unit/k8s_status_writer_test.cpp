// What the status writer writes: our entries beside other controllers', and lastTransitionTime kept
// where a condition did not change. The writes themselves are tests/e2e/test_kubernetes_provider.py's.

#include <gtest/gtest.h>

#include "k8s/status_writer.h"

namespace mg::k8s {
namespace {

using nlohmann::json;

const std::string kOurs = "mirrorgate.io/gateway-controller";

json condition(const std::string& type, const std::string& reason, const std::string& time, int64_t generation = 1) {
  return {{"type", type}, {"status", "True"}, {"reason", reason}, {"message", "m"},
          {"observedGeneration", generation}, {"lastTransitionTime", time}};
}

json parent(const std::string& controller, const std::string& gateway, json conditions) {
  return {{"controllerName", controller},
          {"parentRef", {{"group", "gateway.networking.k8s.io"}, {"kind", "Gateway"}, {"name", gateway}}},
          {"conditions", std::move(conditions)}};
}

TEST(K8sStatusWriter, RouteParentsOfOtherControllersAreKeptAndOursReplaced) {
  const json live = {{"parents", {parent("example.com/other", "theirs", {condition("Accepted", "Accepted", "T0")}),
                                  parent(kOurs, "old", {condition("Accepted", "Accepted", "T0")})}}};
  const json desired = {{"parents", {parent(kOurs, "new", {condition("Accepted", "Accepted", "T5")})}}};
  const json merged = merged_status("HTTPRoute", desired, live, kOurs);
  ASSERT_EQ(merged["parents"].size(), 2u);
  EXPECT_EQ(merged["parents"][0]["controllerName"], "example.com/other");
  EXPECT_EQ(merged["parents"][1]["parentRef"]["name"], "new");
  EXPECT_EQ(merged["parents"][1]["conditions"][0]["lastTransitionTime"], "T5");  // a new parent: new time
}

TEST(K8sStatusWriter, UnchangedConditionsKeepTheLiveTimeAcrossRestarts) {
  const json live = {{"parents", {parent(kOurs, "gw", {condition("Accepted", "Accepted", "T0"),
                                                       condition("ResolvedRefs", "ResolvedRefs", "T0")})}}};
  json changed = condition("ResolvedRefs", "BackendNotFound", "T9");
  changed["status"] = "False";
  const json desired = {{"parents", {parent(kOurs, "gw", {condition("Accepted", "Accepted", "T9"), changed})}}};
  const json merged = merged_status("HTTPRoute", desired, live, kOurs);
  EXPECT_EQ(merged["parents"][0]["conditions"][0]["lastTransitionTime"], "T0");
  EXPECT_EQ(merged["parents"][0]["conditions"][1]["lastTransitionTime"], "T9");
  // A new generation is a change too: observedGeneration moves, and so does the time.
  const json next = {{"parents", {parent(kOurs, "gw", {condition("Accepted", "Accepted", "T9", 2)})}}};
  EXPECT_EQ(merged_status("HTTPRoute", next, live, kOurs)["parents"][0]["conditions"][0]["lastTransitionTime"], "T9");
}

TEST(K8sStatusWriter, GatewayListenersKeepTheirTimesByName) {
  const json live = {{"conditions", {condition("Programmed", "Programmed", "T0")}},
                     {"listeners", {{{"name", "http"}, {"conditions", {condition("Accepted", "Accepted", "T0")}}}}}};
  const json desired = {
      {"conditions", {condition("Programmed", "Programmed", "T7")}},
      {"listeners",
       {{{"name", "https"}, {"conditions", {condition("Accepted", "Accepted", "T7")}}},
        {{"name", "http"}, {"conditions", {condition("Accepted", "Accepted", "T7")}}}}}};
  const json merged = merged_status("Gateway", desired, live, kOurs);
  EXPECT_EQ(merged["conditions"][0]["lastTransitionTime"], "T0");
  EXPECT_EQ(merged["listeners"][0]["conditions"][0]["lastTransitionTime"], "T7");
  EXPECT_EQ(merged["listeners"][1]["conditions"][0]["lastTransitionTime"], "T0");
}

TEST(K8sStatusWriter, PolicyAncestorsLikeRouteParents) {
  json theirs = {{"controllerName", "example.com/other"}, {"ancestorRef", {{"name", "a"}}}, {"conditions", json::array()}};
  json ours = {{"controllerName", kOurs}, {"ancestorRef", {{"name", "b"}}}, {"conditions", {condition("Accepted", "Accepted", "T3")}}};
  const json merged = merged_status("MirrorPolicy", {{"ancestors", {ours}}}, {{"ancestors", {theirs}}}, kOurs);
  EXPECT_EQ(merged["ancestors"], json({theirs, ours}));
}

}  // namespace
}  // namespace mg::k8s
