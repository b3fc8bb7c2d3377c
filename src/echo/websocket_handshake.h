#pragma once
// echo-basic.md section 9: the server handshake of Go's golang.org/x/net/websocket, as a decision on a
// parsed request head (no I/O), and the bytes of the answer.

#include <string>
#include <string_view>

#include "http/message.h"

namespace mg::echo {

struct WebSocketHandshake {
  int status = 101;              // 101, or the refusal's 400, 403 or 405
  std::string_view error;        // Go's error text, the body of a refusal
  bool version_header = false;   // a refusal for the version names the one spoken
  std::string_view origin;       // what the connection log line names
  std::string_view subprotocol;  // echoed back when the client asked for one
  std::string_view key;          // Sec-WebSocket-Key
};

WebSocketHandshake decide_websocket_handshake(const http::RequestHead& head);

// The whole answer: a 101 with Sec-WebSocket-Accept, or Go's bare refusal (head, blank line, error text;
// no length: the connection closes after it).
std::string websocket_handshake_answer(const WebSocketHandshake& handshake);

}  // namespace mg::echo
