#pragma once
// What the gateway does with a request that asks to switch protocols (RFC 9110 7.8), decided from its
// fields alone. As Envoy's default: WebSocket is tunnelled, an h2c upgrade is ignored (the request is
// served as HTTP/1.1, which RFC 9113 3.1 allows), anything else is refused. Without "upgrade" in
// Connection, Upgrade is just a hop-by-hop field and dropped as before.

#include <span>
#include <string_view>

#include "http/message.h"

namespace mg::proxy {

enum class UpgradeKind : uint8_t {
  kNone,       // a plain request
  kWebSocket,  // forwarded with its Upgrade; a 101 turns the connection into a tunnel
  kRefused,    // another protocol, or a request that cannot be an upgrade: 403
};

struct UpgradeRequest {
  UpgradeKind kind = UpgradeKind::kNone;
  std::string_view protocol;  // the Upgrade value to forward (kWebSocket)
};

UpgradeRequest classify_upgrade(std::span<const http::Header> headers, std::string_view connection);

}  // namespace mg::proxy
