#include "upstream/tls_connection.h"

#include <sys/socket.h>

#include <openssl/ssl.h>

#include <array>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "net/socket_watchdog.h"

namespace mg::upstream {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

// The two ends a relay joins; whichever direction ends first closes both, which ends the other.
struct Relay {
  Relay(std::unique_ptr<TlsStream> s, asio::local::stream_protocol::socket p,
        std::shared_ptr<const net::UpstreamTlsContext> c)
      : tls(std::move(s)), pair(std::move(p)), context(std::move(c)) {}
  std::unique_ptr<TlsStream> tls;
  asio::local::stream_protocol::socket pair;
  std::shared_ptr<const net::UpstreamTlsContext> context;  // the SSL_CTX outlives its SSL
  void close() {
    asio::error_code ignored;
    tls->next_layer().close(ignored);
    pair.close(ignored);
  }
};

// The Exchange's bytes (requests) to the backend.
asio::awaitable<void> pair_to_tls(std::shared_ptr<Relay> r) {
  std::array<char, 16 * 1024> buffer;
  for (;;) {
    auto [ec, n] = co_await r->pair.async_read_some(asio::buffer(buffer), kNoThrow);
    if (ec) break;
    auto [wec, written] = co_await asio::async_write(*r->tls, asio::buffer(buffer.data(), n), kNoThrow);
    if (wec) break;
  }
  r->close();
}

// The backend's bytes (responses) to the Exchange. A backend's close (with or without close_notify)
// becomes the pair's close, which is what a plain connection's reader would have seen.
asio::awaitable<void> tls_to_pair(std::shared_ptr<Relay> r) {
  std::array<char, 16 * 1024> buffer;
  for (;;) {
    auto [ec, n] = co_await r->tls->async_read_some(asio::buffer(buffer), kNoThrow);
    if (n > 0) {
      auto [wec, written] = co_await asio::async_write(r->pair, asio::buffer(buffer.data(), n), kNoThrow);
      if (wec) break;
    }
    if (ec) break;
  }
  r->close();
}

}  // namespace

asio::awaitable<TlsConnectResult> connect_tls(const route::Endpoint& endpoint, std::chrono::milliseconds timeout,
                                              std::shared_ptr<const net::UpstreamTlsContext> tls, bool h2) {
  TlsConnectResult result;
  const auto started = std::chrono::steady_clock::now();
  result.connect = co_await connect_to_address(endpoint.ip, endpoint.port, timeout);
  if (!result.connect.connection) co_return result;
  auto stream = std::make_unique<TlsStream>(std::move(result.connect.connection->socket), tls->context());
  result.connect.connection.reset();
  if (!tls->prepare(stream->native_handle(), h2)) {
    result.failure = net::UpstreamTlsFailure::kHandshakeFailed;
    result.why = "the SNI or names to verify were refused by OpenSSL";
    co_return result;
  }
  // One deadline for the connect and the handshake together.
  const auto left = std::max(std::chrono::milliseconds(1), timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                          std::chrono::steady_clock::now() - started));
  net::SocketWatchdog watchdog(stream->next_layer());
  watchdog.arm(left);
  auto [ec] = co_await stream->async_handshake(asio::ssl::stream_base::client, kNoThrow);
  watchdog.disarm();
  if (ec || watchdog.fired()) {
    result.connect.timed_out = watchdog.fired();
    result.connect.error = ec ? ec : std::make_error_code(std::errc::timed_out);
    result.failure = net::UpstreamTlsContext::classify(stream->native_handle());
    result.why = result.failure == net::UpstreamTlsFailure::kHandshakeFailed
                     ? (watchdog.fired() ? std::string("handshake timed out") : ec.message())
                     : net::UpstreamTlsContext::describe(stream->native_handle());
    co_return result;
  }
  if (!tls->peer_matches(stream->native_handle())) {
    result.failure = net::UpstreamTlsFailure::kNameMismatch;
    result.why = "the certificate matches none of the policy's subjectAltNames";
    co_return result;
  }
  if (h2) {
    const unsigned char* alpn = nullptr;
    unsigned int alpn_length = 0;
    SSL_get0_alpn_selected(stream->native_handle(), &alpn, &alpn_length);
    if (std::string_view(reinterpret_cast<const char*>(alpn), alpn_length) != "h2") {
      result.failure = net::UpstreamTlsFailure::kHandshakeFailed;
      result.why = "the backend did not select ALPN h2 (its Service port asks for HTTP/2)";
      co_return result;
    }
  }
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    result.connect.error = std::error_code(errno, std::system_category());
    co_return result;
  }
  auto executor = co_await asio::this_coro::executor;
  asio::error_code ignored;
  asio::ip::tcp::socket near(executor);
  // The Exchange's side reads and writes bytes only, so a local socket serves as its "TCP" connection.
  near.assign(asio::ip::tcp::v4(), fds[0], ignored);
  asio::local::stream_protocol::socket far(executor);
  far.assign(asio::local::stream_protocol(), fds[1], ignored);
  auto relay = std::make_shared<Relay>(std::move(stream), std::move(far), std::move(tls));
  asio::co_spawn(executor, pair_to_tls(relay), asio::detached);
  asio::co_spawn(executor, tls_to_pair(relay), asio::detached);
  result.connect.connection = std::make_unique<UpstreamConnection>(std::move(near));
  result.connect.connection->key = endpoint.address;
  co_return result;
}

}  // namespace mg::upstream
