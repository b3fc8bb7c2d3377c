#include "proxy/downstream_session.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "net/client_stream.h"
#include "net/socket_watchdog.h"
#include "net/tls_context.h"
#include "proxy/http1_session.h"

namespace mg::proxy {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kTlsShutdownTimeout{1000};

}  // namespace

asio::awaitable<void> serve_downstream(SessionContext& context, asio::ip::tcp::socket socket, size_t listener_index) {
  auto& stats = context.upstream.stats;
  ++stats.downstream_connections_total;
  ++stats.downstream_connections_active;
  struct Active {
    stats::WorkerStats& s;
    ~Active() { --s.downstream_connections_active; }
  } active{stats};
  // The listener's TLS context, pinned for the connection (the SNI callback points into it).
  std::shared_ptr<const net::TlsServerContext> tls;
  if (const auto& table = context.table; listener_index < table->listeners.size())
    tls = table->listeners[listener_index].tls;
  net::ClientStream stream = tls ? net::ClientStream(std::move(socket), tls->context())
                                 : net::ClientStream(std::move(socket));
  net::SocketWatchdog watchdog(stream.lowest_layer());
  if (tls) {
    // Bounded like a request head (a silent client cannot hold the slot); a failed handshake just closes.
    watchdog.arm(context.options.header_timeout);
    auto [ec] = co_await stream.async_handshake(kNoThrow);
    watchdog.disarm();
    if (ec) {
      ++stats.tls_handshake_failures_total;
      co_return;
    }
  }
  co_await serve_http1(context, stream, watchdog, listener_index);
  if (tls && stream.lowest_layer().is_open()) {
    // close_notify, so that a client reading a close-delimited body knows it was not cut short.
    // Bounded: a peer that neither answers nor closes does not hold the connection.
    watchdog.reset_fired();
    watchdog.arm(kTlsShutdownTimeout);
    co_await stream.async_shutdown(kNoThrow);
    watchdog.disarm();
  }
}

}  // namespace mg::proxy
