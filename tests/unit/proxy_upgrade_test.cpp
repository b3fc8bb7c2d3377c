// Which requests the gateway tunnels, ignores the Upgrade of, or refuses (Envoy's defaults).

#include "proxy/upgrade.h"

#include <gtest/gtest.h>

#include <vector>

namespace mg::proxy {
namespace {

UpgradeKind kind(std::vector<http::Header> headers, std::string_view connection) {
  return classify_upgrade(headers, connection).kind;
}

TEST(UpgradeDecision, TunnelsWebSocketWhenConnectionNamesUpgrade) {
  const std::vector<http::Header> h{{"Upgrade", " WebSocket "}, {"Connection", "keep-alive, Upgrade"}};
  const UpgradeRequest r = classify_upgrade(h, "keep-alive, Upgrade");
  EXPECT_EQ(r.kind, UpgradeKind::kWebSocket);
  EXPECT_EQ(r.protocol, "WebSocket");
}

TEST(UpgradeDecision, UpgradeWithoutConnectionUpgradeIsAPlainRequest) {
  EXPECT_EQ(kind({{"Upgrade", "websocket"}}, ""), UpgradeKind::kNone);
  EXPECT_EQ(kind({{"Upgrade", "websocket"}}, "keep-alive"), UpgradeKind::kNone);
  EXPECT_EQ(kind({}, "upgrade"), UpgradeKind::kNone);
}

TEST(UpgradeDecision, H2cIsIgnoredOthersRefused) {
  EXPECT_EQ(kind({{"Upgrade", "h2c"}}, "Upgrade, HTTP2-Settings"), UpgradeKind::kNone);
  EXPECT_EQ(kind({{"Upgrade", "TLS/1.2"}}, "upgrade"), UpgradeKind::kRefused);
  EXPECT_EQ(kind({{"Upgrade", "foo"}}, "upgrade"), UpgradeKind::kRefused);
}

TEST(UpgradeDecision, ListsAndRepeatedFieldsAreRefused) {
  // A backend might pick another element of the list than the one the gateway allowed.
  EXPECT_EQ(kind({{"Upgrade", "websocket, foo"}}, "upgrade"), UpgradeKind::kRefused);
  EXPECT_EQ(kind({{"Upgrade", "websocket"}, {"upgrade", "websocket"}}, "upgrade"), UpgradeKind::kRefused);
}

}  // namespace
}  // namespace mg::proxy
