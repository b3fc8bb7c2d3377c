#pragma once
// The HTTP/1.1 side of an h2c cluster's socket pair (h2c_connection.h): each request read from the pair
// goes out as a stream of a shared h2c connection, its answer comes back as HTTP/1.1; a refused stream
// is sent again on another connection while its body is kept.

#include <chrono>
#include <memory>

#include <asio/local/stream_protocol.hpp>

#include "route/cluster_set.h"
#include "upstream/h2c_link.h"

namespace mg::upstream {

// Starts the bridge on the pair's executor; it ends when the pair closes. `first` carries the first request.
void spawn_h2c_bridge(std::shared_ptr<H2cConnections::State> state, asio::local::stream_protocol::socket pair,
                      const route::Endpoint& endpoint, std::chrono::milliseconds timeout,
                      std::shared_ptr<h2c::H2cConnection> first,
                      std::shared_ptr<const net::UpstreamTlsContext> tls = nullptr);

}  // namespace mg::upstream
