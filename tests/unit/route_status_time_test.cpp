// Status is decided once per translation and kept in the RouteTable: lastTransitionTime moves only
// when a condition changes, and the serializer prints what the translation decided.

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "fixtures.h"
#include "route/status.h"
#include "route/gateway_status_options.h"
#include "route/translator.h"

namespace mg::route {
namespace {

using nlohmann::json;

// The fixtures' objects, as the API server numbers them after a few edits.
const std::string kObjects =
    test::join_docs({test::kGatewayClass, test::gateway_yaml(2), test::kService, test::route_yaml(4)});

constexpr std::string_view kFirst = "2025-01-02T03:04:05Z";
constexpr std::string_view kSecond = "2025-01-02T04:00:00Z";

std::shared_ptr<const RouteTable> translate_at(const config::ObjectSet& objects, std::string_view time,
                                               const RouteTable* previous) {
  TranslateOptions options;
  options.time = std::string(time);
  options.previous = previous;
  return translate(objects, options);
}

const Condition& find(const std::vector<Condition>& conditions, std::string_view type) {
  for (const auto& c : conditions)
    if (c.type == type) return c;
  ADD_FAILURE() << "no condition " << type;
  static const Condition kNone;
  return kNone;
}

TEST(StatusTransitionTime, UnchangedConditionsKeepTheirTimeAndChangedOnesGetTheNewOne) {
  config::ObjectSet objects = config::load_string(kObjects, "t.yaml");
  const auto first = translate_at(objects, kFirst, nullptr);
  ASSERT_NE(first->status, nullptr);
  EXPECT_EQ(find(first->status->http_routes[0].parents[0].conditions, "ResolvedRefs").last_transition_time,
            kFirst);

  objects.services[0].ports[0].port = 81;  // the backendRef no longer resolves
  const auto second = translate_at(objects, kSecond, first.get());
  const StatusSnapshot& s = *second->status;
  EXPECT_EQ(s.time, kSecond);
  const auto& parent = s.http_routes[0].parents[0].conditions;
  EXPECT_EQ(find(parent, "ResolvedRefs").status, false);
  EXPECT_EQ(find(parent, "ResolvedRefs").last_transition_time, kSecond);
  EXPECT_EQ(find(parent, "Accepted").last_transition_time, kFirst);
  for (const auto& c : s.gateways[0].conditions) EXPECT_EQ(c.last_transition_time, kFirst) << c.type;
  for (const auto& c : s.gateways[0].listeners[0].conditions)
    EXPECT_EQ(c.last_transition_time, kFirst) << c.type;
  EXPECT_EQ(find(s.gateway_classes[0].conditions, "Accepted").last_transition_time, kFirst);
}

TEST(StatusTransitionTime, ANewGenerationIsATransition) {
  config::ObjectSet objects = config::load_string(kObjects, "t.yaml");
  const auto first = translate_at(objects, kFirst, nullptr);
  objects.gateways[0].metadata.generation = 3;
  const auto second = translate_at(objects, kSecond, first.get());
  for (const auto& c : second->status->gateways[0].conditions) {
    EXPECT_EQ(c.observed_generation, 3);
    EXPECT_EQ(c.last_transition_time, kSecond) << c.type;
  }
  EXPECT_EQ(find(second->status->http_routes[0].parents[0].conditions, "Accepted").last_transition_time,
            kFirst);
}

TEST(StatusTransitionTime, TimesChainAcrossTranslationsAndTheSerializerPrintsThem) {
  config::ObjectSet objects = config::load_string(kObjects, "t.yaml");
  const auto first = translate_at(objects, kFirst, nullptr);
  const auto second = translate(objects, kDefaultControllerName, first.get());  // now: nothing changed
  const auto third = translate_at(objects, kSecond, second.get());
  const json st = status_json(*third, gateway_status_options());
  for (const auto& item : st.at("items")) {
    const json& status = item.at("status");
    const json& conditions =
        item.at("kind") == "HTTPRoute" ? status.at("parents")[0].at("conditions") : status.at("conditions");
    for (const auto& c : conditions) EXPECT_EQ(c.at("lastTransitionTime"), kFirst) << item.dump();
  }
}

TEST(StatusJson, PrintsWhatCompute_statusComputesForTheSameObjects) {
  const config::ObjectSet objects = config::load_string(kObjects, "t.yaml");
  StatusOptions options = gateway_status_options(objects);
  options.transition_time = std::string(kFirst);
  EXPECT_EQ(status_json(*translate_at(objects, kFirst, nullptr), gateway_status_options()),
            compute_status(objects, options));
}

TEST(StatusJson, TheTranslatorsRouteProblemsRejectTheRoute) {
  config::ObjectSet objects = config::load_string(kObjects, "t.yaml");
  objects.http_routes[0].rules[0].filters.push_back(config::HTTPRouteFilter{});
  objects.http_routes[0].rules[0].filters.back().type = "ExtensionRef";
  const auto table = translate(objects);
  ASSERT_EQ(table->route_problems.count("ns/r"), 1u);
  const json st = status_json(*table, gateway_status_options());
  for (const auto& item : st.at("items")) {
    if (item.at("kind") == "HTTPRoute") {
      const json& accepted = item.at("status").at("parents")[0].at("conditions")[0];
      EXPECT_EQ(accepted.at("reason"), "UnsupportedValue");
      EXPECT_NE(accepted.at("message").get<std::string>().find("ExtensionRef"), std::string::npos);
    }
    if (item.at("kind") == "Gateway") {
      EXPECT_EQ(item.at("status").at("listeners")[0].at("attachedRoutes"), 0);
    }
  }
}

}  // namespace
}  // namespace mg::route
