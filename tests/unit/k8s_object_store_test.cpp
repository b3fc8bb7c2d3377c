// An object the API server accepted but mirrorgate cannot use serves nothing, and its status says why:
// decode_object keeps its identity and references (k8s/object_store.cpp), the translator reports it.

#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "k8s/object_store.h"
#include "route/status.h"
#include "route/translator.h"

namespace mg::k8s {
namespace {

using nlohmann::json;

const ApiResource& resource(std::string_view kind) {
  for (const auto& r : watched_resources())
    if (r.kind == kind) return r;
  throw std::runtime_error("no resource " + std::string(kind));
}

// List items come without kind and apiVersion, as the API server sends them.
json item(std::string_view name, json spec) {
  return json{{"metadata", {{"name", name}, {"namespace", "default"}, {"generation", 3}, {"resourceVersion", "7"}}},
              {"spec", std::move(spec)}};
}

const json kGatewayClass = {{"metadata", {{"name", "mirrorgate"}, {"generation", 1}}},
                            {"spec", {{"controllerName", "mirrorgate.io/gateway-controller"}}}};
const json kGateway = item("gw", {{"gatewayClassName", "mirrorgate"},
                                  {"listeners", {{{"name", "http"}, {"port", 8080}, {"protocol", "HTTP"}}}}});
const json kBackend = {{{"name", "web"}, {"port", 8080}}};

json route(std::string_view name, json rule) {
  return item(name, {{"parentRefs", {{{"name", "gw"}}}}, {"rules", {std::move(rule)}}});
}

config::ObjectSet decode_all(const std::vector<std::pair<std::string_view, json>>& objects) {
  ObjectStore store;
  int scope = 0;
  for (const auto& [kind, object] : objects) {
    std::map<ObjectStore::Key, StoredObject> one;
    one.emplace(object["metadata"].value("name", ""), decode_object(resource(kind), object));
    store.replace(scope++, std::move(one));
  }
  return store.snapshot().objects;
}

json status_of(const json& items, std::string_view kind, std::string_view name) {
  for (const auto& i : items["items"])
    if (i["kind"] == kind && i["metadata"]["name"] == name) return i["status"];
  return nullptr;
}

TEST(K8sObjectStore, ARouteTheLoaderRefusesKeepsItsParentsAndSaysWhy) {
  const json bad = route("bad", {{"backendRefs", kBackend}, {"futureField", 1}});
  const StoredObject stored = decode_object(resource("HTTPRoute"), bad);
  ASSERT_EQ(stored.decoded.problems.size(), 1u);  // still logged as a problem
  ASSERT_EQ(stored.decoded.objects.http_routes.size(), 1u);
  const config::HTTPRoute& r = stored.decoded.objects.http_routes.front();
  EXPECT_EQ(r.metadata.name, "bad");
  EXPECT_EQ(r.metadata.generation, 3);
  EXPECT_EQ(r.parent_refs.size(), 1u);
  EXPECT_NE(r.metadata.refused.find("spec.rules[0].futureField: unknown field"), std::string::npos)
      << r.metadata.refused;
  EXPECT_EQ(r.metadata.refused.find("apiserver"), std::string::npos) << "no location prefix in status";
}

// Decoded from the JSON directly (k8s/json_to_yaml.h): a string stays a string and a number a number to the
// loader's type checks, and a message has no line (the API server's JSON has none worth naming).
TEST(K8sObjectStore, JsonTypesAreKeptAndMessagesNameNoLine) {
  const StoredObject quoted_port =
      decode_object(resource("HTTPRoute"), route("r", {{"backendRefs", {{{"name", "web"}, {"port", "8080"}}}}}));
  ASSERT_EQ(quoted_port.decoded.problems.size(), 1u);
  EXPECT_EQ(quoted_port.decoded.problems[0].message,
            "apiserver: HTTPRoute default/r: spec.rules[0].backendRefs[0].port: expected an integer, got string "
            "\"8080\"");
  const StoredObject numeric_name =
      decode_object(resource("HTTPRoute"), route("r", {{"backendRefs", {{{"name", 42}, {"port", 8080}}}}}));
  ASSERT_EQ(numeric_name.decoded.problems.size(), 1u);
  EXPECT_NE(numeric_name.decoded.problems[0].message.find("backendRefs[0].name: expected a string, got integer 42"),
            std::string::npos)
      << numeric_name.decoded.problems[0].message;
  const StoredObject ok = decode_object(
      resource("HTTPRoute"),
      route("r", {{"backendRefs", {{{"name", "web"}, {"port", 8080}, {"weight", 0}}}},
                  {"timeouts", {{"request", "1500ms"}}}}));
  ASSERT_TRUE(ok.decoded.problems.empty()) << ok.decoded.problems.front().message;
  EXPECT_EQ(ok.decoded.objects.http_routes[0].rules[0].backend_refs[0].ref.port, 8080);
  EXPECT_EQ(ok.decoded.objects.http_routes[0].rules[0].backend_refs[0].weight, 0);
}

TEST(K8sObjectStore, ARefusedRouteServesNothingAndItsParentSaysUnsupportedValue) {
  const config::ObjectSet set = decode_all({{"GatewayClass", kGatewayClass},
                                            {"Gateway", kGateway},
                                            {"HTTPRoute", route("good", {{"backendRefs", kBackend}})},
                                            {"HTTPRoute", route("bad", {{"backendRefs", kBackend},
                                                                        {"futureField", 1}})}});
  route::StatusOptions options;
  options.gateway_addresses = {{"default/gw", "127.0.0.1"}};
  const json status = route::compute_status(set, options);

  const json bad = status_of(status, "HTTPRoute", "bad");
  ASSERT_EQ(bad["parents"].size(), 1u);
  const json accepted = bad["parents"][0]["conditions"][0];
  EXPECT_EQ(accepted["type"], "Accepted");
  EXPECT_EQ(accepted["status"], "False");
  EXPECT_EQ(accepted["reason"], "UnsupportedValue");
  EXPECT_EQ(accepted["observedGeneration"], 3);
  EXPECT_NE(accepted["message"].get<std::string>().find("futureField"), std::string::npos);

  const json good = status_of(status, "HTTPRoute", "good");
  EXPECT_EQ(good["parents"][0]["conditions"][0]["status"], "True");
  const json gw = status_of(status, "Gateway", "gw");
  EXPECT_EQ(gw["listeners"][0]["attachedRoutes"], 1) << "only the good route attaches";

  // The data plane: the refused route matches nothing (its schema-default rule would match every path).
  route::TranslateOptions translation;
  const auto table = route::translate(set, translation);
  size_t rules = 0;
  for (const auto& l : table->listeners) rules += l.rules.size();
  EXPECT_EQ(rules, 1u);
}

TEST(K8sObjectStore, ARefusedGatewayIsNotAcceptedAndServesNoListener) {
  json gw = kGateway;
  gw["spec"]["listeners"][0]["futureField"] = true;
  const config::ObjectSet set = decode_all({{"GatewayClass", kGatewayClass}, {"Gateway", gw}});
  ASSERT_EQ(set.gateways.size(), 1u);
  EXPECT_TRUE(set.gateways.front().listeners.empty());
  route::StatusOptions options;
  options.gateway_addresses = {{"default/gw", "127.0.0.1"}};
  const json status = status_of(route::compute_status(set, options), "Gateway", "gw");
  ASSERT_EQ(status["conditions"].size(), 2u);
  EXPECT_EQ(status["conditions"][0]["reason"], "Invalid");
  EXPECT_EQ(status["conditions"][0]["status"], "False");
  EXPECT_NE(status["conditions"][0]["message"].get<std::string>().find("futureField"), std::string::npos);
  EXPECT_EQ(status["conditions"][1]["type"], "Programmed");
  EXPECT_EQ(status["conditions"][1]["status"], "False");
}

TEST(K8sObjectStore, ARefusedPolicyIsInvalidForEachTarget) {
  const json policy = item("mp", {{"targetRefs", {{{"group", "gateway.networking.k8s.io"},
                                                   {"kind", "HTTPRoute"},
                                                   {"name", "good"}}}},
                                  {"sampling", 3}});
  const config::ObjectSet set = decode_all({{"GatewayClass", kGatewayClass},
                                            {"Gateway", kGateway},
                                            {"HTTPRoute", route("good", {{"backendRefs", kBackend}})},
                                            {"MirrorPolicy", policy}});
  ASSERT_EQ(set.mirror_policies.size(), 1u);
  route::StatusOptions options;
  const json status = status_of(route::compute_status(set, options), "MirrorPolicy", "mp");
  ASSERT_EQ(status["ancestors"].size(), 1u);
  const json accepted = status["ancestors"][0]["conditions"][0];
  EXPECT_EQ(accepted["reason"], "Invalid");
  EXPECT_NE(accepted["message"].get<std::string>().find("spec.sampling"), std::string::npos) << accepted;
}

TEST(K8sObjectStore, AnObjectWhoseReferencesDoNotDecodeIsLeftOut) {
  json bad = route("bad", {{"backendRefs", kBackend}});
  bad["spec"]["parentRefs"][0]["futureField"] = 1;
  const StoredObject stored = decode_object(resource("HTTPRoute"), bad);
  EXPECT_EQ(stored.decoded.problems.size(), 1u);
  EXPECT_TRUE(stored.decoded.objects.http_routes.empty());
}

// --publish-service: the Service's load-balancer ingress (from its status) is each address-less Gateway's.
json gateway_status(const config::ObjectSet& set, std::string publish_service, std::string_view gw = "gw") {
  route::TranslateOptions translation;
  translation.publish_service = std::move(publish_service);
  return status_of(route::status_json(*route::translate(set, translation), route::StatusOptions{}), "Gateway", gw);
}

json condition_of(const json& status, std::string_view type) {
  for (const auto& c : status["conditions"])
    if (c["type"] == type) return c;
  return nullptr;
}

json lb_service(json ingress) {
  json svc = item("lb", {{"type", "LoadBalancer"}, {"ports", {{{"port", 80}}}}});
  svc["status"] = {{"loadBalancer", ingress.is_null() ? json::object() : json{{"ingress", ingress}}}};
  return svc;
}

TEST(K8sObjectStore, APublishedServicesLoadBalancerAddressIsTheGatewaysAddress) {
  json address_less = kGateway;
  const config::ObjectSet set = decode_all(
      {{"GatewayClass", kGatewayClass},
       {"Gateway", address_less},
       {"Service", lb_service(json::array({{{"ip", "203.0.113.7"}}, {{"hostname", "lb.example.com"}}}))}});
  const json st = gateway_status(set, "default/lb");
  EXPECT_EQ(st["addresses"], json::parse(R"([{"type":"IPAddress","value":"203.0.113.7"},
                                             {"type":"Hostname","value":"lb.example.com"}])"));
  EXPECT_EQ(condition_of(st, "Programmed")["status"], "True");
  EXPECT_NE(condition_of(st, "Programmed")["message"].get<std::string>().find("published as Service default/lb"),
            std::string::npos);
  // Without the flag: the address it binds.
  EXPECT_EQ(gateway_status(set, "")["addresses"], json::parse(R"([{"type":"IPAddress","value":"0.0.0.0"}])"));
}

TEST(K8sObjectStore, APublishedServiceWithoutAnAddressYetLeavesTheGatewayUnassigned) {
  const config::ObjectSet set =
      decode_all({{"GatewayClass", kGatewayClass}, {"Gateway", kGateway}, {"Service", lb_service(nullptr)}});
  const json st = gateway_status(set, "default/lb");
  EXPECT_FALSE(st.contains("addresses"));
  EXPECT_EQ(condition_of(st, "Programmed")["reason"], "AddressNotAssigned");
  EXPECT_NE(condition_of(st, "Programmed")["message"].get<std::string>().find("no load-balancer address yet"),
            std::string::npos);
  const json missing = gateway_status(set, "default/nope");
  EXPECT_NE(condition_of(missing, "Programmed")["message"].get<std::string>().find("does not exist"),
            std::string::npos);
}

TEST(K8sObjectStore, AGatewayWithItsOwnAddressKeepsIt) {
  json gw = kGateway;
  gw["spec"]["addresses"] = json::array({{{"type", "IPAddress"}, {"value", "127.0.0.9"}}});
  const config::ObjectSet set = decode_all({{"GatewayClass", kGatewayClass},
                                            {"Gateway", gw},
                                            {"Service", lb_service(json::array({{{"ip", "203.0.113.7"}}}))}});
  EXPECT_EQ(gateway_status(set, "default/lb")["addresses"],
            json::parse(R"([{"type":"IPAddress","value":"127.0.0.9"}])"));
}

}  // namespace
}  // namespace mg::k8s
