#pragma once
// The two-way byte relay of an upgraded connection (WebSocket after its 101): what the client sends
// goes to the backend and back, unparsed. Each direction reads only after its last piece was written,
// through one fixed buffer, so a peer that stops reading stops the other side's reads (back-pressure
// through TCP) and the gateway holds at most two buffers per tunnel. An EOF from one side is passed on
// as a half-close (shutdown of sending) to the other; the tunnel ends when both directions have ended,
// when either fails (both sockets are shut down), or when no byte moved either way for the idle timeout.

#include <chrono>
#include <cstdint>

#include <asio/awaitable.hpp>

#include "common/byte_buffer.h"
#include "net/client_stream.h"
#include "upstream/upstream_stream.h"

namespace mg::proxy {

struct TunnelResult {
  uint64_t to_upstream = 0;  // bytes from the client to the backend (those read with the head included)
  uint64_t to_client = 0;
  bool idle_timed_out = false;
  int client_status = 101;  // what the client saw open the tunnel: 200 for an HTTP/2 extended CONNECT
};

// `client_pending` and `upstream_pending`: bytes each side sent right behind its head, read already;
// they go first.
asio::awaitable<TunnelResult> run_tunnel(net::ClientStream& client, ByteBuffer& client_pending,
                                         upstream::UpstreamStream& upstream, ByteBuffer& upstream_pending,
                                         std::chrono::milliseconds idle_timeout);

}  // namespace mg::proxy
