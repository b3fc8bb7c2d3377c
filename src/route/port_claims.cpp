#include "route/port_claims.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "route/listener_rules.h"

namespace mg::route {
namespace {

std::string id_of(const config::Gateway& gw) { return gw.metadata.namespace_ + "/" + gw.metadata.name; }

}  // namespace

PortClaims::PortClaims(std::span<const config::Gateway* const> gateways,
                       const std::map<std::string, std::string>& address_of) {
  std::vector<const config::Gateway*> by_age(gateways.begin(), gateways.end());
  // Oldest first; a Gateway without a timestamp (from a file) after those with one, then by name.
  std::sort(by_age.begin(), by_age.end(), [](const config::Gateway* a, const config::Gateway* b) {
    const auto& ta = a->metadata.creation_timestamp;
    const auto& tb = b->metadata.creation_timestamp;
    if (ta.empty() != tb.empty()) return tb.empty();
    if (ta != tb) return ta < tb;
    return id_of(*a) < id_of(*b);
  });
  std::map<std::pair<std::string, int32_t>, std::string> holders;
  for (const config::Gateway* gw : by_age) {
    const std::string id = id_of(*gw);
    const auto address = address_of.find(id);
    if (address == address_of.end()) continue;  // binds nothing
    for (const auto& l : gw->listeners) {
      if (!binds_socket(l)) continue;
      const auto [holder, inserted] = holders.try_emplace({address->second, l.port}, id);
      if (!inserted && holder->second != id) lost_[id][l.port] = holder->second;
    }
  }
}

const std::string* PortClaims::held_by_other(const std::string& gateway, int32_t port) const {
  const auto gw = lost_.find(gateway);
  if (gw == lost_.end()) return nullptr;
  const auto holder = gw->second.find(port);
  return holder == gw->second.end() ? nullptr : &holder->second;
}

}  // namespace mg::route
