#pragma once
// --gateway-address-pool: addresses the gateway hands out to Gateways that ask for none, as a cloud load
// balancer controller would, so that each Gateway has an address of its own and reports it in
// status.addresses (the upstream conformance suite sends its traffic there). An address, once given, stays
// with its Gateway for as long as the Gateway exists and the pool holds it.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mg::route {

class AddressPool {
 public:
  // An IPv4 CIDR ("127.0.100.0/24"); nullopt with `error` set when it is not one. The network and
  // broadcast addresses are left out of prefixes up to /30, as on any subnet.
  static std::optional<AddressPool> parse(std::string_view cidr, std::string& error);

  const std::string& cidr() const { return cidr_; }
  bool contains(std::string_view address) const;
  size_t size() const { return static_cast<size_t>(last_ - first_) + 1; }

  // Gateway ("ns/name") -> address for each of `wanting`, in its order (older Gateways first): the
  // address `previous` gave it while the pool still holds it, else the lowest one neither given nor
  // `taken` (addresses Gateways name themselves). Gateways left out: the pool is exhausted.
  std::map<std::string, std::string> assign(const std::vector<std::string>& wanting,
                                            const std::map<std::string, std::string>& previous,
                                            const std::set<std::string>& taken) const;

 private:
  std::string cidr_;
  uint32_t first_ = 0, last_ = 0;  // host order, inclusive
};

}  // namespace mg::route
