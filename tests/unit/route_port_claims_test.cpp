// Two Gateways asking for one address:port: the older holds it, the other's listener on that port is not
// served and says PortUnavailable; everything else serves (route/port_claims.h).

#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "fixtures.h"
#include "route/status.h"
#include "route/translator.h"
#include "status_json_reading.h"

namespace mg::route {
namespace {

using nlohmann::json;
using test::condition;
using test::listener_status;

const std::string kClass = std::string(test::kGatewayClass) + "---\n";
using test::dated_gateway_yaml;

// Named so that name order and age order disagree: "a-new" is younger than "z-old".
const std::string kTwo =
    kClass + dated_gateway_yaml("z-old", "2026-01-01T00:00:00Z", "[{name: http, port: 8080, protocol: HTTP}]") +
    dated_gateway_yaml("a-new", "2026-02-01T00:00:00Z",
            "[{name: http, port: 8080, protocol: HTTP}, {name: other, port: 8081, protocol: HTTP}]");

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
      kClass + dated_gateway_yaml("b", "", "[{name: http, port: 80, protocol: HTTP}]") +
      dated_gateway_yaml("a", "", "[{name: http, port: 80, protocol: HTTP}]");
  const auto table = translate(config::load_string(text, "test"), TranslateOptions{});
  ASSERT_EQ(table->listeners.size(), 1u);
  EXPECT_EQ(table->listeners.front().gateway, "default/a");
}

}  // namespace
}  // namespace mg::route
