#include "proxy/upgrade.h"

#include "http/syntax.h"

namespace mg::proxy {

UpgradeRequest classify_upgrade(std::span<const http::Header> headers, std::string_view connection) {
  if (!http::list_contains(connection, "upgrade")) return {};
  std::string_view upgrade;
  int fields = 0;
  for (const auto& h : headers) {
    if (!http::iequals(h.name, "upgrade")) continue;
    ++fields;
    upgrade = h.value;
  }
  if (fields == 0) return {};
  // One protocol, named once: a list ("websocket, foo") or two fields could be read differently by
  // the backend, which would then switch to something the gateway did not allow.
  if (fields == 1 && http::iequals(http::trim_ows(upgrade), "websocket"))
    return {UpgradeKind::kWebSocket, http::trim_ows(upgrade)};
  if (fields == 1 && http::iequals(http::trim_ows(upgrade), "h2c")) return {};
  return {UpgradeKind::kRefused, {}};
}

}  // namespace mg::proxy
