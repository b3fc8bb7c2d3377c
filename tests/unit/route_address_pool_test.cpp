// --gateway-address-pool: each Gateway that asks for no address gets one of its own, keeps it, binds it and
// reports it; an exhausted pool is AddressNotAssigned, never a shared or made-up address.

#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "fixtures.h"
#include "route/address_pool.h"
#include "route/status.h"
#include "route/translator.h"
#include "status_json_reading.h"

namespace mg::route {
namespace {

using nlohmann::json;
using test::condition;

AddressPool pool(std::string_view cidr) {
  std::string error;
  auto p = AddressPool::parse(cidr, error);
  EXPECT_TRUE(p) << error;
  return p.value_or(AddressPool{});
}

TEST(RouteAddressPool, ParsesIpv4CidrsAndLeavesOutNetworkAndBroadcast) {
  const AddressPool p = pool("127.0.100.0/24");
  EXPECT_EQ(p.size(), 254u);
  EXPECT_FALSE(p.contains("127.0.100.0"));
  EXPECT_TRUE(p.contains("127.0.100.1"));
  EXPECT_TRUE(p.contains("127.0.100.254"));
  EXPECT_FALSE(p.contains("127.0.100.255"));
  EXPECT_FALSE(p.contains("127.0.101.1"));
  EXPECT_FALSE(p.contains("not-an-address"));
  EXPECT_EQ(pool("10.0.0.7/32").size(), 1u);
  EXPECT_EQ(pool("10.0.0.6/31").size(), 2u);
  for (const char* bad : {"127.0.100.0", "127.0.100.0/33", "127.0.100.0/", "127.0.100.0/2x", "::1/128",
                          "127.0.100.0/024", "example.com/24"}) {
    std::string error;
    EXPECT_FALSE(AddressPool::parse(bad, error)) << bad;
    EXPECT_NE(error.find("not an IPv4 CIDR"), std::string::npos) << bad << ": " << error;
  }
  std::string error;
  EXPECT_FALSE(AddressPool::parse("127.0.100.5/24", error));
  EXPECT_NE(error.find("127.0.100.0/24"), std::string::npos) << error;
}

TEST(RouteAddressPool, KeepsGivenAddressesSkipsTakenOnesAndStopsWhenExhausted) {
  const AddressPool p = pool("10.1.0.0/30");  // 10.1.0.1 and 10.1.0.2
  auto given = p.assign({"ns/a", "ns/b", "ns/c"}, {}, {});
  EXPECT_EQ(given, (std::map<std::string, std::string>{{"ns/a", "10.1.0.1"}, {"ns/b", "10.1.0.2"}}));
  // b keeps its address even when a newcomer comes first; a name's own address is never given away.
  given = p.assign({"ns/new", "ns/b"}, {{"ns/b", "10.1.0.2"}, {"ns/a", "10.1.0.1"}}, {});
  EXPECT_EQ(given, (std::map<std::string, std::string>{{"ns/new", "10.1.0.1"}, {"ns/b", "10.1.0.2"}}));
  given = p.assign({"ns/a"}, {}, {"10.1.0.1"});
  EXPECT_EQ(given, (std::map<std::string, std::string>{{"ns/a", "10.1.0.2"}}));
  // An address outside the pool now (the flag changed) is not kept.
  given = p.assign({"ns/a"}, {{"ns/a", "192.168.0.1"}}, {});
  EXPECT_EQ(given, (std::map<std::string, std::string>{{"ns/a", "10.1.0.1"}}));
}

const std::string kClass = std::string(test::kGatewayClass) + "---\n";
constexpr std::string_view kHttp = "[{name: http, port: 80, protocol: HTTP}]";

std::string gateway(std::string_view name, std::string_view created, std::string_view more_spec = "") {
  return test::dated_gateway_yaml(name, created, kHttp, more_spec);
}

TEST(RouteAddressPool, EachGatewayBindsAndReportsItsOwnAddressOlderFirstAndKeepsIt) {
  const AddressPool p = pool("127.0.100.0/30");
  TranslateOptions options;
  options.address_pool = &p;
  // "b" is older than "a"; "fixed" names its own address, which the pool must not give again.
  const std::string text = kClass + gateway("a", "2026-02-01T00:00:00Z") + gateway("b", "2026-01-01T00:00:00Z") +
                           gateway("fixed", "2026-01-01T00:00:00Z",
                                   "  addresses: [{type: IPAddress, value: 127.0.100.1}]\n");
  const auto first = translate(config::load_string(text, "test"), options);
  std::map<std::string, std::string> bound;
  for (const auto& l : first->listeners) bound[l.gateway] = l.address;
  EXPECT_EQ(bound, (std::map<std::string, std::string>{
                       {"default/b", "127.0.100.2"}, {"default/fixed", "127.0.100.1"}}));
  const json status = status_json(*first, StatusOptions{});
  EXPECT_EQ(test::object_status(status, "Gateway", "b")["addresses"], json::parse(R"([{"type":"IPAddress","value":"127.0.100.2"}])"));
  const json unassigned = condition(test::object_status(status, "Gateway", "a")["conditions"], "Programmed");
  EXPECT_EQ(unassigned["status"], "False");
  EXPECT_EQ(unassigned["reason"], "AddressNotAssigned");
  EXPECT_NE(unassigned["message"].get<std::string>().find("127.0.100.0/30 (--gateway-address-pool) has no free"),
            std::string::npos)
      << unassigned;
  EXPECT_FALSE(test::object_status(status, "Gateway", "a").contains("addresses"));
  const bool warned = std::any_of(first->warnings.begin(), first->warnings.end(), [](const std::string& w) {
    return w.find("Gateway default/a: the address pool 127.0.100.0/30") != std::string::npos;
  });
  EXPECT_TRUE(warned);

  // "fixed" goes away: "a" gets its address; "b" keeps the one it had.
  options.previous = first.get();
  const auto second = translate(
      config::load_string(kClass + gateway("a", "2026-02-01T00:00:00Z") + gateway("b", "2026-01-01T00:00:00Z"),
                          "test"),
      options);
  bound.clear();
  for (const auto& l : second->listeners) bound[l.gateway] = l.address;
  EXPECT_EQ(bound, (std::map<std::string, std::string>{{"default/a", "127.0.100.1"}, {"default/b", "127.0.100.2"}}));
}

}  // namespace
}  // namespace mg::route
