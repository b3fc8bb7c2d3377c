#pragma once

// Which Gateway gets an address:port that several of them ask for. Two Gateways listening on the same
// address and port would split connections between them at random (SO_REUSEPORT), so one holds it: the
// oldest (creationTimestamp, then namespace/name, as the Gateway API settles conflicts), and the other's
// listeners on that port are not served and report Accepted=False/PortUnavailable. Each Gateway's other
// ports, and every other Gateway, keep serving.

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "config/objects.h"

namespace mg::route {

class PortClaims {
 public:
  // `gateways` are ours; `address_of` gives the address each binds ("ns/name" -> address).
  PortClaims(std::span<const config::Gateway* const> gateways,
             const std::map<std::string, std::string>& address_of);

  // The Gateway ("ns/name") that holds the port this Gateway's listener asks for, when it is another
  // one; nullptr when the listener may have it.
  const std::string* held_by_other(const std::string& gateway, int32_t port) const;

 private:
  std::map<std::string, std::map<int32_t, std::string>> lost_;  // gateway -> port -> holder
};

}  // namespace mg::route
