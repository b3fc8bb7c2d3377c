#include "proxy/downstream_session.h"

#include <memory>
#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "net/client_stream.h"
#include "net/deadline_sweeper.h"
#include "net/socket_watchdog.h"
#include "net/tls_context.h"
#include "proxy/http1_session.h"
#include "proxy/http2_session.h"
#include "proxy/tls_passthrough.h"

namespace mg::proxy {
namespace {

using asio::ip::tcp;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kTlsShutdownTimeout{1000};

// Counts a client connection as active from its accept to its close, across parks and resumes.
class ActiveConnection {
 public:
  explicit ActiveConnection(stats::WorkerStats& stats) : stats_(&stats) {
    ++stats.downstream_connections_total;
    ++stats.downstream_connections_active;
  }
  ActiveConnection(ActiveConnection&& other) noexcept : stats_(std::exchange(other.stats_, nullptr)) {}
  ActiveConnection& operator=(ActiveConnection&&) = delete;
  ~ActiveConnection() {
    if (stats_) --stats_->downstream_connections_active;
  }

 private:
  stats::WorkerStats* stats_;
};

// A parked connection: what an idle keep-alive connection costs once its session has ended (a few
// hundred bytes, where a session holds its frames and buffers). The readiness wait's handler owns it;
// the worker's DeadlineSweeper closes the socket at the idle deadline, which ends the wait.
struct Parked {
  Parked(tcp::socket s, std::shared_ptr<const ListenerEndpoint> l, ActiveConnection a, stats::WorkerStats& worker_stats)
      : socket(std::move(s)), listener(std::move(l)), active(std::move(a)), stats(worker_stats) {
    ++stats.downstream_connections_parked;
  }
  ~Parked() {
    --stats.downstream_connections_parked;
    if (sweeper) sweeper->unlink(deadline);
  }
  Parked(const Parked&) = delete;
  Parked& operator=(const Parked&) = delete;

  tcp::socket socket;
  std::shared_ptr<const ListenerEndpoint> listener;
  ActiveConnection active;
  stats::WorkerStats& stats;
  net::DeadlineSweeper* sweeper = net::DeadlineSweeper::current();
  net::DeadlineSweeper::Entry deadline;
};

asio::awaitable<void> serve_connection(SessionContext& context, tcp::socket socket,
                                       std::shared_ptr<const ListenerEndpoint> listener, ActiveConnection active,
                                       bool resumed);

void park(SessionContext& context, tcp::socket socket, std::shared_ptr<const ListenerEndpoint> listener,
          ActiveConnection active, std::chrono::steady_clock::time_point idle_deadline) {
  auto parked =
      std::make_unique<Parked>(std::move(socket), std::move(listener), std::move(active), context.upstream.stats);
  if (parked->sweeper) {
    parked->deadline.socket = &parked->socket;
    parked->deadline.deadline = idle_deadline;
    parked->sweeper->link(parked->deadline);
  }
  tcp::socket& s = parked->socket;
  s.async_wait(tcp::socket::wait_read, [&context, parked = std::move(parked)](std::error_code ec) mutable {
    if (ec || !parked->socket.is_open()) return;  // the idle deadline passed, or the worker stops
    auto executor = parked->socket.get_executor();
    asio::co_spawn(executor,
                   serve_connection(context, std::move(parked->socket), std::move(parked->listener),
                                    std::move(parked->active), true),
                   asio::detached);
  });
}

asio::awaitable<void> serve_connection(SessionContext& context, tcp::socket socket,
                                       std::shared_ptr<const ListenerEndpoint> listener, ActiveConnection active,
                                       bool resumed) {
  // The listener's TLS context, pinned for the connection (the SNI callback points into it). A resumed
  // connection is a plain one: TLS connections are never parked.
  ListenerSlot slot(std::move(listener));
  const route::Listener* served = slot.resolve(*context.table);
  if (!served) co_return;  // its Gateway went away between the accept and now
  if (served->passthrough) {  // TLS Passthrough (TLSRoute): the connection goes to a backend unopened
    co_await serve_tls_passthrough(context, std::move(socket), slot);
    co_return;
  }
  std::shared_ptr<const net::TlsServerContext> tls;
  if (!resumed) tls = served->tls;
  net::ClientStream stream = tls ? net::ClientStream(std::move(socket), tls->context())
                                 : net::ClientStream(std::move(socket));
  net::SocketWatchdog watchdog(stream.lowest_layer());
  if (tls) {
    // Bounded (a silent client cannot hold the slot); a failed handshake just closes.
    watchdog.arm(context.options.tls_handshake_timeout);
    auto [ec] = co_await stream.async_handshake(kNoThrow);
    watchdog.disarm();
    if (ec) {
      ++context.upstream.stats.tls_handshake_failures_total;
      co_return;
    }
    slot.set_server_name(std::string(stream.server_name()));
  }
  Http1End end;
  if (tls && stream.alpn_protocol() == "h2") {  // offered once the listener lists h2 (net/tls_context.h)
    co_await serve_http2(context, stream, watchdog, slot, {});
  } else {
    end = co_await serve_http1(context, stream, watchdog, slot, resumed);
    if (end.http2) co_await serve_http2(context, stream, watchdog, slot, std::move(end.http2_bytes));
  }
  if (end.park && !tls && stream.lowest_layer().is_open()) {
    park(context, std::move(stream.lowest_layer()), slot.endpoint(), std::move(active), end.idle_deadline);
    co_return;
  }
  if (tls && stream.lowest_layer().is_open()) {
    // close_notify, so that a client reading a close-delimited body knows it was not cut short.
    // Bounded: a peer that neither answers nor closes does not hold the connection.
    watchdog.reset_fired();
    watchdog.arm(kTlsShutdownTimeout);
    co_await stream.async_shutdown(kNoThrow);
    watchdog.disarm();
  }
}

}  // namespace

asio::awaitable<void> serve_downstream(SessionContext& context, tcp::socket socket,
                                       std::shared_ptr<const ListenerEndpoint> listener) {
  return serve_connection(context, std::move(socket), std::move(listener), ActiveConnection(context.upstream.stats),
                          false);
}

}  // namespace mg::proxy
