// The /ws handshake of echo-basic.md section 9 (Go's x/net/websocket): which requests are upgraded and
// what the refusals look like.

#include "echo/websocket_handshake.h"

#include <gtest/gtest.h>

#include <string>

#include "http/parser.h"

namespace mg::echo {
namespace {

struct Decided {
  http::RequestHead head;
  std::string text;
  WebSocketHandshake handshake;
};

void decide(Decided& d, std::string_view method, std::string_view fields) {
  d.text = std::string(method) + " /ws HTTP/1.1\r\nHost: echo\r\n" + std::string(fields) + "\r\n";
  ASSERT_EQ(http::parse_request_head(d.text, http::Limits{}, d.head).status, http::ParseStatus::kComplete);
  d.handshake = decide_websocket_handshake(d.head);
}

constexpr std::string_view kGood =
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\nOrigin: ws://gateway/test\r\n";

TEST(EchoWebSocketHandshake, UpgradesAGoodRequestWithTheRfcAcceptKey) {
  Decided d;
  decide(d, "GET", kGood);
  EXPECT_EQ(d.handshake.status, 101);
  EXPECT_EQ(d.handshake.origin, "ws://gateway/test");
  const std::string answer = websocket_handshake_answer(d.handshake);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
  EXPECT_NE(answer.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos);
  EXPECT_TRUE(answer.ends_with("\r\n\r\n"));
}

TEST(EchoWebSocketHandshake, EchoesOneSubprotocolAndRefusesTwo) {
  Decided d;
  decide(d, "GET", std::string(kGood) + "Sec-WebSocket-Protocol: chat\r\n");
  EXPECT_NE(websocket_handshake_answer(d.handshake).find("Sec-WebSocket-Protocol: chat\r\n"), std::string::npos);
  decide(d, "GET", std::string(kGood) + "Sec-WebSocket-Protocol: chat, superchat\r\n");
  EXPECT_EQ(d.handshake.status, 400);
}

TEST(EchoWebSocketHandshake, RefusesAsGoDoes) {
  Decided d;
  decide(d, "POST", kGood);
  EXPECT_EQ(d.handshake.status, 405);
  decide(d, "GET", "Connection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\nOrigin: http://a\r\n");
  EXPECT_EQ(d.handshake.status, 400);
  decide(d, "GET", "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\nOrigin: http://a\r\n");
  EXPECT_EQ(d.handshake.status, 400);  // no key
  decide(d, "GET", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 8\r\nOrigin: http://a\r\n");
  EXPECT_EQ(d.handshake.status, 400);
  const std::string answer = websocket_handshake_answer(d.handshake);
  EXPECT_NE(answer.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
  EXPECT_TRUE(answer.ends_with("\r\n\r\nmissing or bad WebSocket Version"));
  decide(d, "GET", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n");
  EXPECT_EQ(d.handshake.status, 403);  // no Origin
}

}  // namespace
}  // namespace mg::echo
