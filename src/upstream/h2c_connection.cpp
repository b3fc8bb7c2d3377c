#include "upstream/h2c_connection.h"

#include <sys/socket.h>

#include <algorithm>

#include <asio/local/stream_protocol.hpp>
#include <asio/this_coro.hpp>

#include "upstream/h2c_bridge.h"
#include "upstream/h2c_link.h"

namespace mg::upstream {

using h2c::H2cConnection;

asio::awaitable<std::shared_ptr<H2cConnection>> H2cConnections::State::acquire(
    const route::Endpoint& endpoint, std::chrono::milliseconds timeout, ConnectResult& failure,
    const std::shared_ptr<const net::UpstreamTlsContext>& tls, TlsConnectResult* tls_failure) {
  // TLS connections (h2 by ALPN) are kept apart from cleartext ones to the same address.
  const std::string key = tls ? tls->pool_prefix() + endpoint.address : endpoint.address;
  for (;;) {
    auto& list = by_endpoint[key];
    std::erase_if(list, [](const auto& c) { return c->ready() && !c->usable(); });  // they end on their own
    std::shared_ptr<H2cConnection> best, connecting;
    for (const auto& c : list) {
      if (!c->ready()) {
        if (c->usable()) connecting = c;
      } else if (!c->full() && (!best || c->load() < best->load())) {
        best = c;
      }
    }
    if (best) co_return best;
    if (connecting) {
      co_await connecting->wait_ready();
      if (connecting->ready()) co_return connecting;
      continue;
    }
    if (list.size() < kConnectionsPerEndpoint) {
      auto executor = co_await asio::this_coro::executor;
      auto fresh = std::make_shared<H2cConnection>(executor);
      list.push_back(fresh);
      if (tls) {
        TlsConnectResult secured = co_await connect_tls(endpoint, timeout, tls, true);
        failure = std::move(secured.connect);
        if (tls_failure) {
          tls_failure->failure = secured.failure;
          tls_failure->why = std::move(secured.why);
        }
        if (failure.connection) ++stats->upstream_tls_connections_total;
      } else {
        failure = co_await connect_to_address(endpoint.ip, endpoint.port, timeout);
      }
      if (!failure.connection) {
        fresh->fail();
        std::erase(by_endpoint[key], fresh);
        co_return nullptr;
      }
      fresh->start(std::move(failure.connection->stream));
      ++stats->upstream_connections_total;
      ++stats->upstream_h2c_connections_total;
      failure.connection.reset();
      co_return fresh;
    }
    co_return *std::min_element(list.begin(), list.end(),
                                [](const auto& a, const auto& b) { return a->load() < b->load(); });
  }
}

H2cConnections::H2cConnections() : state_(std::make_shared<State>()) {}
H2cConnections::~H2cConnections() = default;

size_t H2cConnections::connection_count() const {
  size_t n = 0;
  for (const auto& [address, list] : state_->by_endpoint)
    n += static_cast<size_t>(std::count_if(list.begin(), list.end(), [](const auto& c) { return c->usable(); }));
  return n;
}

size_t H2cConnections::close_idle(std::chrono::steady_clock::time_point now, std::chrono::milliseconds max_idle) {
  size_t closed = 0;
  for (auto it = state_->by_endpoint.begin(); it != state_->by_endpoint.end();) {
    std::erase_if(it->second, [&](const std::shared_ptr<H2cConnection>& c) {
      if (!c->ready()) return false;  // still connecting
      if (c->load() > 0) return !c->usable();  // a draining one finishes its streams on its own
      if (c->usable() && now - c->idle_since() < max_idle) return false;
      if (c->usable()) ++closed;
      c->close();
      return true;
    });
    it = it->second.empty() ? state_->by_endpoint.erase(it) : std::next(it);
  }
  return closed;
}

asio::awaitable<ConnectResult> H2cConnections::connect(const route::Endpoint& endpoint,
                                                       std::chrono::milliseconds timeout,
                                                       stats::WorkerStats& stats,
                                                       const std::shared_ptr<const net::UpstreamTlsContext>& tls,
                                                       TlsConnectResult* tls_failure) {
  state_->stats = &stats;
  ConnectResult result;
  std::shared_ptr<H2cConnection> connection = co_await state_->acquire(endpoint, timeout, result, tls, tls_failure);
  if (!connection) co_return result;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    result.error = std::error_code(errno, std::system_category());
    co_return result;
  }
  auto executor = co_await asio::this_coro::executor;
  asio::error_code ec;
  asio::ip::tcp::socket near(executor);
  // The Exchange's side reads and writes bytes only, so a local socket serves as its "TCP" connection.
  near.assign(asio::ip::tcp::v4(), fds[0], ec);
  asio::local::stream_protocol::socket far(executor);
  far.assign(asio::local::stream_protocol(), fds[1], ec);
  spawn_h2c_bridge(state_, std::move(far), endpoint, timeout, std::move(connection), tls);
  result.connection = std::make_unique<UpstreamConnection>(UpstreamStream(std::move(near)));
  result.connection->key = endpoint.address;
  co_return result;
}

}  // namespace mg::upstream
