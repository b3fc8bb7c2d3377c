#include "proxy/tls_passthrough.h"

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "common/byte_buffer.h"
#include "common/request_id.h"
#include "net/client_hello.h"
#include "net/client_stream.h"
#include "net/socket_watchdog.h"
#include "proxy/tunnel.h"
#include "upstream/load_balancer.h"
#include "upstream/upstream_connection.h"

namespace mg::proxy {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
// A new connection is tried on at most this many endpoints (nothing was sent to a failed one).
constexpr int kConnectAttempts = 2;

struct Outcome {
  std::string_view route;
  std::string_view backend;
  std::string upstream_host;
  std::string_view upstream_pod;
  uint64_t to_upstream = 0;
  uint64_t to_client = 0;
  std::string error;  // why the connection went to no backend, or how the relay ended
};

// Reads until the ClientHello is whole (or is none), within the header timeout.
asio::awaitable<net::ClientHelloInspector::Result> read_client_hello(tcp::socket& socket,
                                                                      net::ClientHelloInspector& hello,
                                                                      std::chrono::milliseconds timeout) {
  net::SocketWatchdog watchdog(socket);
  watchdog.arm(timeout);
  std::array<char, 4096> buffer;
  while (hello.result() == net::ClientHelloInspector::Result::kNeedMore) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), kNoThrow);
    if (ec || n == 0) break;
    hello.feed(std::string_view(buffer.data(), n));
  }
  watchdog.disarm();
  co_return hello.result();
}

}  // namespace

asio::awaitable<void> serve_tls_passthrough(SessionContext& context, tcp::socket socket, ListenerSlot& listener) {
  const auto start = Clock::now();
  stats::WorkerStats& stats = context.upstream.stats;
  std::error_code ignored;
  const tcp::endpoint peer = socket.remote_endpoint(ignored);
  const std::string client = peer.address().to_string();
  // Pinned for the connection: the route and its clusters stay valid while it runs.
  const std::shared_ptr<const route::RouteTable> table = context.table;
  const std::shared_ptr<const route::ClusterSet> clusters = context.clusters;

  net::ClientHelloInspector hello;
  Outcome outcome;
  const auto read = co_await read_client_hello(socket, hello, context.options.header_timeout);
  std::unique_ptr<upstream::UpstreamConnection> backend;
  if (read != net::ClientHelloInspector::Result::kDone) {
    outcome.error = read == net::ClientHelloInspector::Result::kRejected ? hello.error()
                                                                         : "no TLS ClientHello in time";
  } else if (const route::Listener* served = listener.resolve(*table); !served) {
    outcome.error = "the listener went away";
  } else if (const route::SniRoute* sni = served->route_sni(hello.server_name()); !sni) {
    outcome.error = "no TLSRoute for server name \"" + hello.server_name() + "\"";
  } else {
    outcome.route = sni->route;
    const route::BackendChoice* choice = upstream::LoadBalancer::pick_backend(sni->backends, sni->total_weight);
    if (choice) outcome.backend = choice->name;
    if (!choice || choice->cluster < 0) {
      outcome.error = "the route has no usable backend";
    } else {
      for (int attempt = 0; attempt < kConnectAttempts && !backend; ++attempt) {
        const route::Endpoint* endpoint = context.upstream.balancer.pick_endpoint(*clusters, choice->cluster);
        if (!endpoint) {
          outcome.error = "no healthy upstream";
          break;
        }
        // Plain TCP whatever policy covers the Service port: the client's TLS goes through unopened.
        upstream::ConnectResult connected =
            co_await upstream::connect_to_address(endpoint->ip, endpoint->port, context.options.connect_timeout);
        outcome.upstream_host = endpoint->address;
        outcome.upstream_pod = endpoint->pod;
        if (connected.connection) {
          ++stats.upstream_connections_total;
          backend = std::move(connected.connection);
          outcome.error.clear();
        } else {
          outcome.error = connected.timed_out ? "upstream connect timeout" : "upstream connect failed";
        }
      }
    }
  }

  if (backend) {
    const InFlight in_flight(context.in_flight);  // as a WebSocket tunnel: the drain waits for it
    ++stats.tls_passthrough_total;
    ++stats.tls_passthrough_active;
    net::ClientStream client_stream(std::move(socket));
    ByteBuffer client_pending(hello.bytes().size());
    client_pending.append(hello.bytes());
    ByteBuffer upstream_pending(0);
    const TunnelResult relayed =
        co_await run_tunnel(client_stream, client_pending, backend->stream, upstream_pending,
                            context.options.tunnel_idle_timeout);
    --stats.tls_passthrough_active;
    outcome.to_upstream = relayed.to_upstream;
    outcome.to_client = relayed.to_client;
    if (relayed.idle_timed_out) outcome.error = "tunnel idle timeout";
  } else {
    ++stats.tls_passthrough_refused;
    socket.close(ignored);
  }

  if (context.access_log.enabled()) {
    const std::string id = generate_request_id();
    context.access_log.log(stats::RequestLogEntry{
        .request_id = id,
        .trace_id = {},
        .client = client,
        .method = {},
        .host = hello.server_name(),
        .target = {},
        .protocol = "TLS",
        .route = outcome.route,
        .rule = {},
        .backend = outcome.backend,
        .upstream_host = outcome.upstream_host,
        .upstream_pod = outcome.upstream_pod,
        .upstream_protocol = backend ? "TCP" : "",
        .request_bytes = outcome.to_upstream,
        .response_bytes = outcome.to_client,
        .duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count(),
        .error = outcome.error,
    });
  }
}

}  // namespace mg::proxy
