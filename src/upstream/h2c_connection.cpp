#include "upstream/h2c_connection.h"

#include <algorithm>

#include <asio/this_coro.hpp>

namespace mg::upstream {

using h2c::H2cConnection;

asio::awaitable<std::shared_ptr<H2cConnection>> H2cConnections::acquire(
    const route::Endpoint& endpoint, std::chrono::milliseconds timeout, stats::WorkerStats& stats,
    const std::shared_ptr<const net::UpstreamTlsContext>& tls, TlsConnectResult& failure, bool* opened) {
  const std::string key = tls ? tls->pool_prefix() + endpoint.address : endpoint.address;
  for (;;) {
    auto& list = by_endpoint_[key];
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
        failure = co_await connect_tls(endpoint, timeout, tls, true);
        if (failure.connect.connection) ++stats.upstream_tls_connections_total;
      } else {
        failure.connect = co_await connect_to_address(endpoint.ip, endpoint.port, timeout);
      }
      if (!failure.connect.connection) {
        fresh->fail();
        std::erase(by_endpoint_[key], fresh);
        co_return nullptr;
      }
      fresh->start(std::move(failure.connect.connection->stream));
      ++stats.upstream_connections_total;
      ++stats.upstream_h2c_connections_total;
      failure.connect.connection.reset();
      if (opened) *opened = true;
      co_return fresh;
    }
    co_return *std::min_element(list.begin(), list.end(),
                                [](const auto& a, const auto& b) { return a->load() < b->load(); });
  }
}

size_t H2cConnections::connection_count() const {
  size_t n = 0;
  for (const auto& [address, list] : by_endpoint_)
    n += static_cast<size_t>(std::count_if(list.begin(), list.end(), [](const auto& c) { return c->usable(); }));
  return n;
}

size_t H2cConnections::close_idle(std::chrono::steady_clock::time_point now, std::chrono::milliseconds max_idle) {
  size_t closed = 0;
  for (auto it = by_endpoint_.begin(); it != by_endpoint_.end();) {
    std::erase_if(it->second, [&](const std::shared_ptr<H2cConnection>& c) {
      if (!c->ready()) return false;  // still connecting
      if (c->load() > 0) return !c->usable();  // a draining one finishes its streams on its own
      if (c->usable() && now - c->idle_since() < max_idle) return false;
      if (c->usable()) ++closed;
      c->close();
      return true;
    });
    it = it->second.empty() ? by_endpoint_.erase(it) : std::next(it);
  }
  return closed;
}

}  // namespace mg::upstream
