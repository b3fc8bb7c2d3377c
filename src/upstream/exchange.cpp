#include <spdlog/spdlog.h>

#include "upstream/exchange.h"

#include <algorithm>

#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

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
  http1().attach(connection_.get());
  if (connection_) watchdog_.emplace(connection_->stream.lowest_layer());
}

asio::awaitable<ConnectResultKind> Exchange::connect_to(const route::Endpoint& endpoint,
                                                        std::chrono::milliseconds timeout, bool fresh,
                                                        const std::shared_ptr<const net::UpstreamTlsContext>& tls) {
  endpoint_ = &endpoint;
  if (h2()) co_return co_await connect_h2(endpoint, timeout, tls);
  if (tls) co_return co_await connect_tls_to(endpoint, timeout, fresh, tls);
  if (!fresh) {
    if (auto idle = context_.pool.take(endpoint.address)) {
      adopt(std::move(idle));
      co_return ConnectResultKind::kConnected;
    }
  }
  adopt(nullptr);
  ConnectResult connected = co_await connect_to_address(endpoint.ip, endpoint.port, timeout);
  if (!connected.connection) {
    spdlog::debug("upstream connect to {} failed: {}", endpoint.address,
                  connected.timed_out ? "timed out" : connected.error.message());
    co_return connected.timed_out ? ConnectResultKind::kTimedOut : ConnectResultKind::kFailed;
  }
  ++context_.stats.upstream_connections_total;
  spdlog::debug("upstream connection to {} opened{}", endpoint.address, fresh ? " (a pooled one was just closed)" : "");
  adopt(std::move(connected.connection));
  co_return ConnectResultKind::kConnected;
}

// A shared h2c connection (HTTP/2 over TLS under a policy) with room for a stream; H2cConnections counts
// the connections it opens.
asio::awaitable<ConnectResultKind> Exchange::connect_h2(const route::Endpoint& endpoint,
                                                        std::chrono::milliseconds timeout,
                                                        const std::shared_ptr<const net::UpstreamTlsContext>& tls) {
  h2()->finish();  // a try before this one
  TlsConnectResult failure;
  bool opened = false;
  auto connection = co_await context_.pool.h2c().acquire(endpoint, timeout, context_.stats, tls, failure, &opened);
  if (!connection) {
    if (failure.failure != net::UpstreamTlsFailure::kNone) co_return tls_failed(endpoint, *tls, failure);
    spdlog::debug("upstream h2 connect to {} failed: {}", endpoint.address,
                  failure.connect.timed_out ? "timed out" : failure.connect.error.message());
    co_return failure.connect.timed_out ? ConnectResultKind::kTimedOut : ConnectResultKind::kFailed;
  }
  reused_h2_ = !opened;
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  h2()->attach(executor, context_.pool.h2c(), context_.stats, endpoint, timeout, tls, std::move(connection));
  co_return ConnectResultKind::kConnected;
}

ConnectResultKind Exchange::tls_failed(const route::Endpoint& endpoint, const net::UpstreamTlsContext& tls,
                                       const TlsConnectResult& connected) {
  const auto reason = connected.connect.timed_out ? stats::UpstreamTlsError::kHandshakeTimeout
                      : connected.failure == net::UpstreamTlsFailure::kNameMismatch
                          ? stats::UpstreamTlsError::kNameMismatch
                      : connected.failure == net::UpstreamTlsFailure::kCertificateUntrusted
                          ? stats::UpstreamTlsError::kCertificateUntrusted
                          : stats::UpstreamTlsError::kHandshakeFailed;
  ++context_.stats.upstream_tls_errors[static_cast<size_t>(reason)];
  tls_error_ = fmt::format("TLS to {} ({}, BackendTLSPolicy {}) failed: {}: {}", endpoint.address,
                           tls.settings().hostname, tls.settings().policy, stats::to_string(reason), connected.why);
  spdlog::warn("upstream {}", tls_error_);
  return ConnectResultKind::kTlsFailed;
}

asio::awaitable<ConnectResultKind> Exchange::connect_tls_to(const route::Endpoint& endpoint,
                                                            std::chrono::milliseconds timeout, bool fresh,
                                                            const std::shared_ptr<const net::UpstreamTlsContext>& tls) {
  // Pooled apart from plain connections (and other policies') to the same address.
  std::string key = tls->pool_prefix() + endpoint.address;
  if (!fresh) {
    if (auto idle = context_.pool.take(key)) {
      adopt(std::move(idle));
      co_return ConnectResultKind::kConnected;
    }
  }
  adopt(nullptr);
  TlsConnectResult connected = co_await connect_tls(endpoint, timeout, tls);
  if (connected.failure != net::UpstreamTlsFailure::kNone) co_return tls_failed(endpoint, *tls, connected);
  if (!connected.connect.connection) {
    spdlog::debug("upstream connect to {} failed: {}", endpoint.address,
                  connected.connect.timed_out ? "timed out" : connected.connect.error.message());
    co_return connected.connect.timed_out ? ConnectResultKind::kTimedOut : ConnectResultKind::kFailed;
  }
  ++context_.stats.upstream_connections_total;
  ++context_.stats.upstream_tls_connections_total;
  connected.connect.connection->key = std::move(key);
  adopt(std::move(connected.connect.connection));
  co_return ConnectResultKind::kConnected;
}

asio::awaitable<ConnectResultKind> Exchange::connect(const route::ClusterSet& clusters, int cluster,
                                                     std::chrono::milliseconds timeout, bool fresh) {
  if (H2StreamWire* w = h2()) {
    w->finish();
  } else {
    adopt(nullptr);
  }
  endpoint_ = nullptr;
  const route::ClusterEndpoints* c = clusters.find(cluster);
  const int tries = c && c->endpoints.size() > 1 ? 2 : 1;
  ConnectResultKind result = ConnectResultKind::kNoEndpoint;
  for (int i = 0; i < tries; ++i) {
    const route::Endpoint* endpoint = context_.balancer.pick_endpoint(clusters, cluster);
    if (!endpoint) break;
    result = co_await connect_to(*endpoint, timeout, fresh, c->tls);
    if (result == ConnectResultKind::kConnected) break;
  }
  co_return result;
}

asio::awaitable<bool> Exchange::write(std::span<const asio::const_buffer> buffers,
                                      std::chrono::milliseconds timeout) {
  if (H2StreamWire* w = h2()) {
    std::string_view body;
    if (!w->set_request_bytes(buffers, body)) co_return false;
    if (timeout.count() > 0) arm(timeout);
    const bool sent = co_await w->send_body(body, true);
    if (timeout.count() > 0) disarm();
    co_return sent && !fired();
  }
  if (timeout.count() > 0) arm(timeout);
  auto [ec, n] = co_await asio::async_write(connection_->stream, buffers, kNoThrow);
  if (timeout.count() > 0) disarm();
  co_return !ec && !fired();
}

asio::awaitable<bool> Exchange::send_body(std::string_view piece, bool last, std::span<const http::Header> trailers,
                                          std::chrono::milliseconds timeout) {
  if (H2StreamWire* w = h2()) {  // (request trailers have no way to an h2 backend yet: H2ClientCodec)
    if (timeout.count() > 0) arm(timeout);
    const bool sent = co_await w->send_body(piece, last);
    if (timeout.count() > 0) disarm();
    co_return sent;
  }
  const std::span<const asio::const_buffer> bytes = http1().encode_body(piece, last, trailers);
  if (bytes.empty()) co_return true;
  // The write inline, not write(): every request sends its head here, and a coroutine frame fewer shows.
  if (timeout.count() > 0) arm(timeout);
  auto [ec, n] = co_await asio::async_write(connection_->stream, bytes, kNoThrow);
  if (timeout.count() > 0) disarm();
  co_return !ec && !fired();
}

asio::awaitable<bool> Exchange::resend(std::string_view body, std::chrono::milliseconds timeout) {
  if (H2StreamWire* w = h2()) {
    if (timeout.count() > 0) arm(timeout);
    const bool sent = co_await w->resend(body);
    if (timeout.count() > 0) disarm();
    co_return sent;
  }
  const bool written = co_await write(http1().encode_again(body), timeout);
  co_return written;
}

asio::awaitable<bool> Exchange::read_more() {
  ByteBuffer& buffer = connection_->buffer;
  size_t available = 0;
  char* p = buffer.prepare(kReadChunk, available);
  auto [ec, n] = co_await connection_->stream.async_read_some(asio::buffer(p, available), kNoThrow);
  if (ec) {
    eof_ = ec == asio::error::eof;
    co_return false;
  }
  buffer.commit(n);
  co_return true;
}

asio::awaitable<HeadResult> Exchange::read_head(std::string_view method, const http::Limits& limits,
                                                std::chrono::milliseconds timeout, bool upgrade_requested) {
  const bool own_deadline = timeout.count() > 0;
  if (own_deadline) arm(timeout);
  auto done = [&](HeadResult r) {
    if (own_deadline) disarm();
    return r;
  };
  if (H2StreamWire* w = h2()) {
    const HeadResult result = co_await w->read_head(method, limits);
    co_return done(result);
  }
  for (;;) {
    switch (http1().parse_head(method, limits, upgrade_requested)) {
      case WireRead::kOk:
      case WireRead::kDone:
        co_return done(HeadResult::kOk);
      case WireRead::kMalformed:
        co_return done(HeadResult::kMalformed);
      case WireRead::kNeedMore:
        break;
    }
    // The read inline, not read_more(): every request waits here, and a coroutine frame fewer shows.
    size_t available = 0;
    char* p = connection_->buffer.prepare(kReadChunk, available);
    auto [ec, n] = co_await connection_->stream.async_read_some(asio::buffer(p, available), kNoThrow);
    if (ec) {
      eof_ = ec == asio::error::eof;
      co_return done(fired() ? HeadResult::kTimeout : HeadResult::kClosed);
    }
    connection_->buffer.commit(n);
  }
}

asio::awaitable<BodyRead> Exchange::read_body(std::string_view& piece, std::chrono::milliseconds timeout) {
  BodyRead read = take_body(piece);
  if (read != BodyRead::kWait) co_return read;
  const bool own_deadline = timeout.count() > 0;
  if (own_deadline) arm(timeout);
  if (H2StreamWire* w = h2()) read = co_await w->read_body(piece);
  while (read == BodyRead::kWait) {
    if (co_await read_more()) {
      read = take_body(piece);
    } else if (eof_ && http1().end_of_input() == WireRead::kDone) {
      read = BodyRead::kDone;  // a close-delimited body ends with the connection
    } else {
      read = fired() ? BodyRead::kTimeout : BodyRead::kClosed;
    }
  }
  if (own_deadline) disarm();
  co_return read;
}

asio::awaitable<DiscardResult> Exchange::discard_body(http::BodyCapture* capture) {
  constexpr std::chrono::milliseconds kKeepDeadline{0};
  for (;;) {
    std::string_view piece;
    switch (co_await read_body(piece, kKeepDeadline)) {
      case BodyRead::kData:
        if (capture) capture->add(piece);
        break;
      case BodyRead::kDone:
        co_return DiscardResult::kDone;
      case BodyRead::kMalformed:
      case BodyRead::kWait:  // (read_body waits itself)
        co_return DiscardResult::kMalformed;
      case BodyRead::kTimeout:
        co_return DiscardResult::kTimeout;
      case BodyRead::kClosed:
        co_return DiscardResult::kClosed;
    }
  }
}

void Exchange::cancel() {
  if (H2StreamWire* w = h2()) return w->cancel();
  if (!connection_) return;
  std::error_code ignored;
  connection_->stream.cancel(ignored);
}

void Exchange::finish(bool response_complete) {
  if (H2StreamWire* w = h2()) return w->finish();  // the connection is shared, never pooled
  if (!connection_) return;
  const http::ResponseHead& head = connection_->response_head;
  const bool reusable = response_complete && head.keep_alive && head.framing != http::BodyFraming::kUntilClose &&
                        http1().at_message_end() && !fired();
  watchdog_.reset();
  if (reusable) context_.pool.give_back(std::move(connection_));
  connection_.reset();
}

}  // namespace mg::upstream
