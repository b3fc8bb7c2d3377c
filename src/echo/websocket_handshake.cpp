#include "echo/websocket_handshake.h"

#include "echo/response.h"
#include "http/syntax.h"
#include "http/websocket_frame.h"

namespace mg::echo {
namespace {

bool icontains(std::string_view haystack, std::string_view needle) {
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i)
    if (http::iequals(haystack.substr(i, needle.size()), needle)) return true;
  return false;
}

WebSocketHandshake refuse(int status, std::string_view error, bool version_header = false) {
  WebSocketHandshake h;
  h.status = status;
  h.error = error;
  h.version_header = version_header;
  return h;
}

}  // namespace

WebSocketHandshake decide_websocket_handshake(const http::RequestHead& head) {
  // The checks and texts of x/net/websocket's hybiServerHandshaker.ReadHandshake, in its order.
  if (head.method != "GET") return refuse(405, "bad method");
  const std::string_view upgrade = http::find_header(head.headers, "upgrade");
  // Go lowercases Connection and looks for "upgrade" anywhere in it, not as a list token.
  if (!http::iequals(upgrade, "websocket") || !icontains(http::find_header(head.headers, "connection"), "upgrade"))
    return refuse(400, "not websocket protocol");
  const std::string_view key = http::find_header(head.headers, "sec-websocket-key");
  if (key.empty()) return refuse(400, "mismatch challenge/response");
  if (http::find_header(head.headers, "sec-websocket-version") != "13")
    return refuse(400, "missing or bad WebSocket Version", true);
  const std::string_view protocol = http::trim_ows(http::find_header(head.headers, "sec-websocket-protocol"));
  if (protocol.find(',') != std::string_view::npos) return refuse(400, "bad protocol");
  // The default Server.Handshake: the Origin must be there and parse as a URL.
  const std::string_view origin = http::find_header(head.headers, "origin");
  if (origin.empty() || origin.find(':') == std::string_view::npos) return refuse(403, "null origin");
  WebSocketHandshake h;
  h.origin = origin;
  h.subprotocol = protocol;
  h.key = key;
  return h;
}

std::string websocket_handshake_answer(const WebSocketHandshake& h) {
  std::string out;
  if (h.status != 101) {
    out = "HTTP/1.1 " + std::to_string(h.status) + " " + status_line_text(h.status) + "\r\n";
    if (h.version_header) out += "Sec-WebSocket-Version: 13\r\n";
    out += "\r\n";
    out += h.error;
    return out;
  }
  out = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  out += http::ws::accept_key(h.key);
  out += "\r\n";
  if (!h.subprotocol.empty()) out.append("Sec-WebSocket-Protocol: ").append(h.subprotocol).append("\r\n");
  out += "\r\n";
  return out;
}

}  // namespace mg::echo
