#include <spdlog/spdlog.h>

#include "upstream/exchange.h"

#include <algorithm>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include "http/chunked.h"
#include "http/parser.h"
#include "upstream/tls_connection.h"

namespace mg::upstream {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 16 * 1024;

}  // namespace

void Exchange::adopt(std::unique_ptr<UpstreamConnection> connection) {
  watchdog_.reset();  // it watches the old connection's socket
  connection_ = std::move(connection);
  eof_ = false;
  if (connection_) watchdog_.emplace(connection_->stream.lowest_layer());
}

asio::awaitable<ConnectResultKind> Exchange::connect_to(const route::Endpoint& endpoint,
                                                        std::chrono::milliseconds timeout, bool fresh,
                                                        route::UpstreamProtocol protocol,
                                                        const std::shared_ptr<const net::UpstreamTlsContext>& tls) {
  endpoint_ = &endpoint;
  if (tls) co_return co_await connect_tls_to(endpoint, timeout, fresh, protocol, tls);
  if (!fresh) {
    if (auto idle = context_.pool.take(endpoint.address)) {
      adopt(std::move(idle));
      co_return ConnectResultKind::kConnected;
    }
  }
  adopt(nullptr);
  ConnectResult connected;
  if (protocol == route::UpstreamProtocol::kH2c) {  // (not a ?: of two co_awaits: g++ 12 miscompiles it)
    connected = co_await context_.pool.h2c().connect(endpoint, timeout, context_.stats);
  } else {
    connected = co_await connect_to_address(endpoint.ip, endpoint.port, timeout);
  }
  if (!connected.connection) {
    spdlog::debug("upstream connect to {} failed: {}", endpoint.address,
                  connected.timed_out ? "timed out" : connected.error.message());
    co_return connected.timed_out ? ConnectResultKind::kTimedOut : ConnectResultKind::kFailed;
  }
  // An h2c cluster's local pair is no backend connection: H2cConnections counts the ones it opens.
  if (protocol == route::UpstreamProtocol::kHttp1) ++context_.stats.upstream_connections_total;
  spdlog::debug("upstream connection to {} opened{}", endpoint.address, fresh ? " (a pooled one was just closed)" : "");
  adopt(std::move(connected.connection));
  co_return ConnectResultKind::kConnected;
}

asio::awaitable<ConnectResultKind> Exchange::connect_tls_to(const route::Endpoint& endpoint,
                                                            std::chrono::milliseconds timeout, bool fresh,
                                                            route::UpstreamProtocol protocol,
                                                            const std::shared_ptr<const net::UpstreamTlsContext>& tls) {
  // Pooled apart from plain connections (and other policies') to the same address.
  const bool h2 = protocol == route::UpstreamProtocol::kH2c;
  std::string key = tls->pool_prefix() + (h2 ? "h2|" : "") + endpoint.address;
  if (!fresh) {
    if (auto idle = context_.pool.take(key)) {
      adopt(std::move(idle));
      co_return ConnectResultKind::kConnected;
    }
  }
  adopt(nullptr);
  // An h2c port under a policy: HTTP/2 over TLS (ALPN h2), still through the h2c bridge (h2c_connection.h).
  TlsConnectResult connected;
  if (h2) {
    connected.connect = co_await context_.pool.h2c().connect(endpoint, timeout, context_.stats, tls, &connected);
  } else {
    connected = co_await connect_tls(endpoint, timeout, tls);
  }
  if (connected.failure != net::UpstreamTlsFailure::kNone) {
    const auto reason = connected.connect.timed_out ? stats::UpstreamTlsError::kHandshakeTimeout
                        : connected.failure == net::UpstreamTlsFailure::kNameMismatch
                            ? stats::UpstreamTlsError::kNameMismatch
                        : connected.failure == net::UpstreamTlsFailure::kCertificateUntrusted
                            ? stats::UpstreamTlsError::kCertificateUntrusted
                            : stats::UpstreamTlsError::kHandshakeFailed;
    ++context_.stats.upstream_tls_errors[static_cast<size_t>(reason)];
    tls_error_ = fmt::format("TLS to {} ({}, BackendTLSPolicy {}) failed: {}: {}", endpoint.address,
                             tls->settings().hostname, tls->settings().policy, stats::to_string(reason), connected.why);
    spdlog::warn("upstream {}", tls_error_);
    co_return ConnectResultKind::kTlsFailed;
  }
  if (!connected.connect.connection) {
    spdlog::debug("upstream connect to {} failed: {}", endpoint.address,
                  connected.connect.timed_out ? "timed out" : connected.connect.error.message());
    co_return connected.connect.timed_out ? ConnectResultKind::kTimedOut : ConnectResultKind::kFailed;
  }
  if (!h2) {  // H2cConnections counts the TLS connections it opens, not the bridge's local pairs
    ++context_.stats.upstream_connections_total;
    ++context_.stats.upstream_tls_connections_total;
  }
  connected.connect.connection->key = std::move(key);
  adopt(std::move(connected.connect.connection));
  co_return ConnectResultKind::kConnected;
}

asio::awaitable<ConnectResultKind> Exchange::connect(const route::ClusterSet& clusters, int cluster,
                                                     std::chrono::milliseconds timeout, bool fresh) {
  adopt(nullptr);
  endpoint_ = nullptr;
  const route::ClusterEndpoints* c = clusters.find(cluster);
  const int tries = c && c->endpoints.size() > 1 ? 2 : 1;
  ConnectResultKind result = ConnectResultKind::kNoEndpoint;
  for (int i = 0; i < tries; ++i) {
    const route::Endpoint* endpoint = context_.balancer.pick_endpoint(clusters, cluster);
    if (!endpoint) break;
    result = co_await connect_to(*endpoint, timeout, fresh, c->protocol, c->tls);
    if (result == ConnectResultKind::kConnected) break;
  }
  co_return result;
}

asio::awaitable<bool> Exchange::write(std::span<const asio::const_buffer> buffers,
                                      std::chrono::milliseconds timeout) {
  if (timeout.count() > 0) arm(timeout);
  auto [ec, n] = co_await asio::async_write(connection_->stream, buffers, kNoThrow);
  if (timeout.count() > 0) disarm();
  co_return !ec && !fired();
}

asio::awaitable<HeadResult> Exchange::read_head(std::string_view method, const http::Limits& limits,
                                                std::chrono::milliseconds timeout, bool upgrade_requested) {
  auto& buffer = connection_->buffer;
  http::ResponseHead& head = connection_->response_head;
  const bool own_deadline = timeout.count() > 0;
  if (own_deadline) arm(timeout);
  auto done = [&](HeadResult r) {
    if (own_deadline) disarm();
    return r;
  };
  for (;;) {
    const http::ParseResult r = http::parse_response_head(buffer.readable(), limits, method, head);
    if (r.status == http::ParseStatus::kError ||
        (r.status == http::ParseStatus::kComplete && head.status == 101 && !upgrade_requested))
      co_return done(HeadResult::kMalformed);
    if (r.status == http::ParseStatus::kComplete) {
      if (head.status >= 200 || head.status == 101) co_return done(HeadResult::kOk);
      buffer.consume(head.head_length);  // 100 Continue, 103 Early Hints: not relayed
      continue;
    }
    size_t available = 0;
    char* p = buffer.prepare(kReadChunk, available);
    auto [ec, n] = co_await connection_->stream.async_read_some(asio::buffer(p, available), kNoThrow);
    if (ec) {
      eof_ = ec == asio::error::eof;
      co_return done(fired() ? HeadResult::kTimeout : HeadResult::kClosed);
    }
    buffer.commit(n);
  }
}

asio::awaitable<DiscardResult> Exchange::discard_body(http::BodyCapture* capture) {
  auto& buffer = connection_->buffer;
  const http::ResponseHead& head = connection_->response_head;
  buffer.consume(head.head_length);
  auto failed = [&] { return fired() ? DiscardResult::kTimeout : DiscardResult::kClosed; };
  http::ChunkedDecoder decoder;
  uint64_t remaining = head.content_length;
  for (;;) {
    bool done = false;
    switch (head.framing) {
      case http::BodyFraming::kNone:
        done = true;
        break;
      case http::BodyFraming::kContentLength: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining, buffer.size()));
        if (capture) capture->add(buffer.readable().substr(0, n));
        buffer.consume(n);
        remaining -= n;
        done = remaining == 0;
        break;
      }
      case http::BodyFraming::kChunked:
        while (!buffer.empty()) {
          size_t consumed = 0;
          std::string_view data;
          const auto s = decoder.next(buffer.readable(), consumed, data);
          if (capture) capture->add(data);
          buffer.consume(consumed);
          if (s == http::ChunkedDecoder::Status::kError) co_return DiscardResult::kMalformed;
          if (s == http::ChunkedDecoder::Status::kDone) {
            done = true;
            break;
          }
          if (s == http::ChunkedDecoder::Status::kNeedMore) break;
        }
        break;
      case http::BodyFraming::kUntilClose:
        if (capture) capture->add(buffer.readable());
        buffer.clear();
        break;
    }
    if (done) co_return DiscardResult::kDone;
    size_t available = 0;
    char* p = buffer.prepare(kReadChunk, available);
    auto [ec, n] = co_await connection_->stream.async_read_some(asio::buffer(p, available), kNoThrow);
    if (ec) {
      if (ec == asio::error::eof && head.framing == http::BodyFraming::kUntilClose) co_return DiscardResult::kDone;
      co_return failed();
    }
    buffer.commit(n);
  }
}

void Exchange::cancel() {
  if (!connection_) return;
  std::error_code ignored;
  connection_->stream.cancel(ignored);
}

void Exchange::finish(bool response_complete) {
  if (!connection_) return;
  const http::ResponseHead& head = connection_->response_head;
  const bool reusable = response_complete && head.keep_alive && head.framing != http::BodyFraming::kUntilClose &&
                        connection_->buffer.empty() && !fired();
  watchdog_.reset();
  if (reusable) context_.pool.give_back(std::move(connection_));
  connection_.reset();
}

}  // namespace mg::upstream
