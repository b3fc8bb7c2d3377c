#include "admin/admin_server.h"

#include <stdexcept>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include "admin/admin_auth.h"
#include "admin/page_assets.h"
#include "common/byte_buffer.h"
#include "http/parser.h"
#include "net/socket_watchdog.h"
#include "http/serializer.h"

namespace mg::admin {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

// `extra_headers`: whole header lines, each ending in CRLF.
std::string response(int status, std::string_view content_type, std::string_view body, bool head_only,
                     std::string_view extra_headers = {}) {
  std::string out =
      fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n", status,
                  http::reason_phrase(status), content_type, body.size(), extra_headers);
  if (!head_only) out.append(body);
  return out;
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

// For clients that do not ask for HTML (curl); a browser gets the page (page_assets.h).
constexpr std::string_view kIndex =
    "mirrorgate admin (a browser gets the admin page here)\n"
    "  /ready        200 when listeners are bound\n"
    "  /metrics      Prometheus metrics\n"
    "  /status       Gateway API objects with their computed status (JSON)\n"
    "  /config_dump  the route table in use (JSON)\n"
    "  /mirrors      recent mirror outcomes (JSON); ?request_id=ID&since_us=T&limit=N\n"
    "  /mirrors/diff recent mirror responses that differed from the primary's (JSON); same query\n"
    "  /topology     what the admin page draws: listeners, rules, backends, mirrors and their counters (JSON)\n";

// The page runs only its own files (nothing from elsewhere, no inline script) and is never framed.
constexpr std::string_view kPageHeaders =
    "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nVary: Accept\r\n"
    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; frame-ancestors 'none'\r\n";

// Both challenges: API clients answer Bearer; a browser knows only Basic and then prompts for a login,
// whose password is the token (admin_auth.h).
constexpr std::string_view kChallenges =
    "WWW-Authenticate: Bearer realm=\"mirrorgate admin\"\r\n"
    "WWW-Authenticate: Basic realm=\"mirrorgate admin (password: the admin token)\", charset=\"UTF-8\"\r\n";

asio::awaitable<void> serve(asio::ip::tcp::socket socket, const AdminHandlers& handlers, std::string_view token) {
  net::SocketWatchdog watchdog(socket);
  watchdog.arm(std::chrono::seconds(10));
  ByteBuffer buffer(4096);
  http::RequestHead head;
  http::Limits limits;
  for (;;) {
    auto parsed = http::parse_request_head(buffer.readable(), limits, head);
    if (parsed.status == http::ParseStatus::kError) {
      co_await asio::async_write(socket, asio::buffer(response(parsed.error_status, "text/plain",
                                                              std::string(parsed.error) + "\n", false)),
                                 kNoThrow);
      co_return;
    }
    if (parsed.status == http::ParseStatus::kComplete) break;
    size_t available = 0;
    char* p = buffer.prepare(4096, available);
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(p, available), kNoThrow);
    if (ec) co_return;
    buffer.commit(n);
  }
  bool head_only = head.method == "HEAD";
  std::string out;
  std::string_view path = path_of(head.target);
  if (head.method != "GET" && !head_only) {
    out = response(405, "text/plain", "admin endpoints answer GET only\n", false);
  } else if (!token.empty() && path != "/ready" && !authorization_carries(head.find("authorization"), token)) {
    out = response(401, "text/plain", "this admin endpoint needs the admin token: Authorization: Bearer TOKEN\n",
                   head_only, kChallenges);
  } else {
    if (path == "/ready") {
      bool ready = handlers.ready();
      out = response(ready ? 200 : 503, "text/plain", ready ? "LIVE\n" : "NOT READY\n", head_only);
    } else if (path == "/metrics" || path == "/stats/prometheus") {
      const auto format = stats::negotiate_format(head.find("accept"));
      std::string body = handlers.metrics(format);
      stats::finish_exposition(body, format);
      out = response(200, stats::content_type(format), body, head_only, "Vary: Accept\r\n");
    } else if (path == "/mirrors" || path == "/mirrors/diff") {
      size_t q = head.target.find('?');
      std::string_view query = q == std::string_view::npos ? std::string_view{} : head.target.substr(q + 1);
      const auto& handler = path == "/mirrors" ? handlers.mirrors : handlers.mirror_diff;
      out = response(200, "application/json", handler(query), head_only);
    } else if (path == "/status") {
      out = response(200, "application/json", handlers.status(), head_only);
    } else if (path == "/config_dump") {
      out = response(200, "application/json", handlers.config_dump(), head_only);
    } else if (path == "/topology") {
      out = response(200, "application/json", handlers.topology(), head_only);
    } else if (path == "/" && head.find("accept").find("text/html") == std::string_view::npos) {
      out = response(200, "text/plain", kIndex, head_only, "Vary: Accept\r\n");
    } else if (const PageAsset* asset = find_page_asset(path)) {
      out = response(200, asset->content_type, asset->body, head_only, kPageHeaders);
    } else {
      out = response(404, "text/plain", "unknown admin endpoint; see /\n", head_only);
    }
  }
  co_await asio::async_write(socket, asio::buffer(out), kNoThrow);
  std::error_code ignored;
  socket.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, const AdminHandlers& handlers,
                                  std::string_view token) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kNoThrow);
    if (!acceptor.is_open()) co_return;
    if (ec) continue;
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), handlers, token), asio::detached);
  }
}

}  // namespace

asio::ip::tcp::endpoint parse_host_port(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size())
    throw std::invalid_argument(fmt::format("\"{}\" is not ADDRESS:PORT", text));
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::error_code ec;
  auto address = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) throw std::invalid_argument(fmt::format("\"{}\": \"{}\" is not an IP address", text, host));
  unsigned long port = 0;
  try {
    size_t used = 0;
    port = std::stoul(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) throw std::invalid_argument("junk");
  } catch (const std::exception&) {
    throw std::invalid_argument(fmt::format("\"{}\": port is not a number", text));
  }
  if (port > 65535) throw std::invalid_argument(fmt::format("\"{}\": port above 65535", text));
  return {address, static_cast<uint16_t>(port)};
}

AdminServer::AdminServer(const std::string& address, AdminHandlers handlers, std::string token)
    : handlers_(std::move(handlers)), token_(std::move(token)) {
  require_token_off_loopback(address, token_);
  auto endpoint = parse_host_port(address);
  std::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(128, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot listen on admin address {}: {}", address, ec.message()));
  port_ = acceptor_.local_endpoint().port();
}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() {
  asio::co_spawn(io_, accept_loop(acceptor_, handlers_, token_), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

void AdminServer::stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
}

}  // namespace mg::admin
