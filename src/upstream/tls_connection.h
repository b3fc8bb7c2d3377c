#pragma once
// TLS to the endpoints of a Service port covered by a BackendTLSPolicy: a verified handshake on a new
// TCP connection, which then carries the exchange's bytes (or an h2 connection's frames) in process,
// through its UpstreamStream (upstream_stream.h). Plain connections are untouched by any of this.

#include <chrono>
#include <memory>

#include <asio/awaitable.hpp>

#include "net/upstream_tls.h"
#include "route/cluster_set.h"
#include "upstream/upstream_connection.h"

namespace mg::upstream {

struct TlsConnectResult {
  ConnectResult connect;  // .connection set on success; .timed_out for the TCP connect or the handshake
  net::UpstreamTlsFailure failure = net::UpstreamTlsFailure::kNone;  // set when the TLS part failed
  std::string why;  // words for the log when it failed
};

// Connects to `endpoint`, completes a verified TLS handshake (all within `timeout`) and hands back the
// connection, its stream a TLS one that keeps the context (and so its SSL_CTX) alive.
// `h2`: ALPN offers h2 only, and a backend that does not select it is a failed handshake (the stream then
// carries HTTP/2 frames: an h2 connection runs over it, h2c_link.h).
asio::awaitable<TlsConnectResult> connect_tls(const route::Endpoint& endpoint, std::chrono::milliseconds timeout,
                                              std::shared_ptr<const net::UpstreamTlsContext> tls, bool h2 = false);

}  // namespace mg::upstream
