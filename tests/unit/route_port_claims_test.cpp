// Two Gateways asking for one address:port: the older holds it, the other's listener on that port is not
// served and says PortUnavailable; everything else serves (route/port_claims.h).

#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "route/status.h"
#include "route/translator.h"

namespace mg::route {
namespace {

using nlohmann::json;

std::string gateway(std::string_view name, std::string_view created, std::string_view listeners) {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: " + std::string(name) +
         ", namespace: default, creationTimestamp: \"" + std::string(created) +
         "\"}\nspec:\n  gatewayClassName: mirrorgate\n  listeners: " + std::string(listeners) + "\n---\n";
}

const std::string kClass = R"(apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: mirrorgate}
spec: {controllerName: mirrorgate.io/gateway-controller}
---
)";

// Named so that name order and age order disagree: "a-new" is younger than "z-old".
const std::string kTwo =
    kClass + gateway("z-old", "2026-01-01T00:00:00Z", "[{name: http, port: 8080, protocol: HTTP}]") +
    gateway("a-new", "2026-02-01T00:00:00Z",
            "[{name: http, port: 8080, protocol: HTTP}, {name: other, port: 8081, protocol: HTTP}]");

json listener_status(const json& status, std::string_view gw, std::string_view listener) {
  for (const auto& i : status["items"])
    if (i["kind"] == "Gateway" && i["metadata"]["name"] == gw)
      for (const auto& l : i["status"]["listeners"])
        if (l["name"] == listener) return l;
  return nullptr;
}

json condition(const json& conditions, std::string_view type) {
  for (const auto& c : conditions)
    if (c["type"] == type) return c;
  return nullptr;
}

TEST(RoutePortClaims, TheOlderGatewayHoldsThePortAndTheOtherListenerIsNotServed) {
  const auto table = translate(config::load_string(kTwo, "test"), TranslateOptions{});
  ASSERT_EQ(table->listeners.size(), 2u);
  for (const auto& l : table->listeners) {
    EXPECT_EQ(l.gateway, l.port == 8080 ? "default/z-old" : "default/a-new") << l.port;
  }
  const bool warned = std::any_of(table->warnings.begin(), table->warnings.end(), [](const std::string& w) {
    return w.find("a-new listener http: 0.0.0.0:8080 is held by the older Gateway default/z-old") !=
           std::string::npos;
  });
  EXPECT_TRUE(warned);

  const json status = status_json(*table, StatusOptions{});
  const json lost = listener_status(status, "a-new", "http");
  EXPECT_EQ(condition(lost["conditions"], "Accepted")["reason"], "PortUnavailable");
  EXPECT_EQ(condition(lost["conditions"], "Accepted")["status"], "False");
  EXPECT_EQ(condition(lost["conditions"], "Programmed")["status"], "False");
  EXPECT_EQ(condition(listener_status(status, "a-new", "other")["conditions"], "Programmed")["status"], "True");
  EXPECT_EQ(condition(listener_status(status, "z-old", "http")["conditions"], "Accepted")["status"], "True");
}

TEST(RoutePortClaims, GatewaysOnTheirOwnAddressesShareAPortNumber) {
  std::string text = kTwo;
  StatusOptions options;
  options.gateway_addresses = {{"default/z-old", "127.0.0.1"}, {"default/a-new", "127.0.0.2"}};
  const json status = compute_status(config::load_string(text, "test"), options);
  EXPECT_EQ(condition(listener_status(status, "a-new", "http")["conditions"], "Accepted")["status"], "True");
  EXPECT_EQ(condition(listener_status(status, "z-old", "http")["conditions"], "Accepted")["status"], "True");
}

TEST(RoutePortClaims, WithoutTimestampsTheFirstByNameHoldsIt) {
  const std::string text =
      kClass + gateway("b", "", "[{name: http, port: 80, protocol: HTTP}]") +
      gateway("a", "", "[{name: http, port: 80, protocol: HTTP}]");
  const auto table = translate(config::load_string(text, "test"), TranslateOptions{});
  ASSERT_EQ(table->listeners.size(), 1u);
  EXPECT_EQ(table->listeners.front().gateway, "default/a");
}

}  // namespace
}  // namespace mg::route
