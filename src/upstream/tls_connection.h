#pragma once
// TLS to the endpoints of a Service port covered by a BackendTLSPolicy. The Exchange speaks HTTP/1.1
// over a plain socket to every backend, so (as for h2c, h2c_connection.h) a TLS cluster's connection is
// one end of a local socket pair: a relay task on the other end carries its bytes through the TLS
// connection to the endpoint, both ways, and closes the pair when the backend closes (which the idle
// pool notices as it does for a plain connection). Plain connections are untouched by any of this; a TLS
// one costs one more copy of each byte, on loopback memory.

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
// near end of the relay's socket pair. The context is kept alive by the relay for as long as it runs.
// `h2`: ALPN offers h2 only, and a backend that does not select it is a failed handshake (the pair then
// carries HTTP/2 frames: an h2c connection runs over it, h2c_connection.h).
asio::awaitable<TlsConnectResult> connect_tls(const route::Endpoint& endpoint, std::chrono::milliseconds timeout,
                                              std::shared_ptr<const net::UpstreamTlsContext> tls, bool h2 = false);

}  // namespace mg::upstream
