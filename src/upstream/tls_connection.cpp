#include "upstream/tls_connection.h"

#include <openssl/ssl.h>

#include <algorithm>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "net/socket_watchdog.h"

namespace mg::upstream {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

asio::awaitable<TlsConnectResult> connect_tls(const route::Endpoint& endpoint, std::chrono::milliseconds timeout,
                                              std::shared_ptr<const net::UpstreamTlsContext> tls, bool h2) {
  TlsConnectResult result;
  const auto started = std::chrono::steady_clock::now();
  result.connect = co_await connect_to_address(endpoint.ip, endpoint.port, timeout);
  if (!result.connect.connection) co_return result;
  std::unique_ptr<UpstreamConnection> connection = std::move(result.connect.connection);
  connection->stream = UpstreamStream(std::move(connection->stream.lowest_layer()), std::move(tls));
  UpstreamStream::TlsStream& stream = *connection->stream.tls();
  const net::UpstreamTlsContext& context = connection->stream.tls_context();
  if (!context.prepare(stream.native_handle(), h2)) {
    result.failure = net::UpstreamTlsFailure::kHandshakeFailed;
    result.why = "the SNI or names to verify were refused by OpenSSL";
    co_return result;
  }
  // One deadline for the connect and the handshake together.
  const auto left = std::max(std::chrono::milliseconds(1), timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                          std::chrono::steady_clock::now() - started));
  net::SocketWatchdog watchdog(stream.next_layer());
  watchdog.arm(left);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kNoThrow);
  watchdog.disarm();
  if (ec || watchdog.fired()) {
    result.connect.timed_out = watchdog.fired();
    result.connect.error = ec ? ec : std::make_error_code(std::errc::timed_out);
    result.failure = net::UpstreamTlsContext::classify(stream.native_handle());
    result.why = result.failure == net::UpstreamTlsFailure::kHandshakeFailed
                     ? (watchdog.fired() ? std::string("handshake timed out") : ec.message())
                     : net::UpstreamTlsContext::describe(stream.native_handle());
    co_return result;
  }
  if (!context.peer_matches(stream.native_handle())) {
    result.failure = net::UpstreamTlsFailure::kNameMismatch;
    result.why = "the certificate matches none of the policy's subjectAltNames";
    co_return result;
  }
  if (h2) {
    const unsigned char* alpn = nullptr;
    unsigned int alpn_length = 0;
    SSL_get0_alpn_selected(stream.native_handle(), &alpn, &alpn_length);
    if (std::string_view(reinterpret_cast<const char*>(alpn), alpn_length) != "h2") {
      result.failure = net::UpstreamTlsFailure::kHandshakeFailed;
      result.why = "the backend did not select ALPN h2 (its Service port asks for HTTP/2)";
      co_return result;
    }
  }
  connection->key = endpoint.address;
  result.connect.connection = std::move(connection);
  co_return result;
}

}  // namespace mg::upstream
