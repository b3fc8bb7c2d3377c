#include "proxy/tunnel.h"

#include <array>

#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace mg::proxy {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
// Per direction: the most a tunnel holds in the gateway between a read and its write.
constexpr size_t kPiece = 16 * 1024;

struct TunnelState {
  tcp::socket& client;    // the client stream's TCP socket (under TLS, if any)
  tcp::socket& upstream;  // the backend stream's, likewise
  std::chrono::milliseconds idle_timeout;
  asio::steady_timer idle;
  Clock::time_point last_activity = Clock::now();
  int open_directions = 2;

  // A failure or the idle timeout: both directions' pending operations end with an error.
  void abort() {
    std::error_code ignored;
    for (tcp::socket* s : {&client, &upstream}) {
      s->shutdown(tcp::socket::shutdown_both, ignored);
      s->cancel(ignored);
    }
  }
  void direction_done() {
    if (--open_directions == 0) idle.cancel();
  }
};

// Under TLS (either side) this half-close is a TCP one, without close_notify: the peer learns that the
// other side is done sending, as it would from a plain connection.
void shutdown_sending(tcp::socket& to) {
  std::error_code ignored;
  to.shutdown(tcp::socket::shutdown_send, ignored);
}

template <typename From, typename To>
asio::awaitable<uint64_t> pump(From& from, ByteBuffer& pending, To& to, tcp::socket& to_socket, TunnelState& state) {
  uint64_t bytes = 0;
  bool failed = false;
  if (!pending.empty()) {
    auto [ec, n] = co_await asio::async_write(to, asio::buffer(pending.readable()), kNoThrow);
    bytes += n;
    failed = static_cast<bool>(ec);
    pending.clear();
  }
  std::array<char, kPiece> piece;
  while (!failed) {
    auto [rec, n] = co_await from.async_read_some(asio::buffer(piece), kNoThrow);
    if (rec) {
      failed = rec != asio::error::eof;
      break;
    }
    state.last_activity = Clock::now();
    auto [wec, written] = co_await asio::async_write(to, asio::buffer(piece.data(), n), kNoThrow);
    bytes += written;
    failed = static_cast<bool>(wec);
    state.last_activity = Clock::now();
  }
  if (failed) {
    state.abort();
  } else {
    shutdown_sending(to_socket);
  }
  state.direction_done();
  co_return bytes;
}

// Returns whether it ended the tunnel. (A value, not void: asio's `&&` of a tuple and a void fails to
// compile in this version.)
asio::awaitable<bool> watch_idle(TunnelState& state) {
  while (state.open_directions > 0) {
    state.idle.expires_at(state.last_activity + state.idle_timeout);
    co_await state.idle.async_wait(kNoThrow);
    if (state.open_directions > 0 && Clock::now() >= state.last_activity + state.idle_timeout) {
      state.abort();
      co_return true;
    }
  }
  co_return false;
}

}  // namespace

asio::awaitable<TunnelResult> run_tunnel(net::ClientStream& client, ByteBuffer& client_pending, upstream::UpstreamStream& upstream,
                                         ByteBuffer& upstream_pending, std::chrono::milliseconds idle_timeout) {
  using namespace asio::experimental::awaitable_operators;
  TunnelState state{client.lowest_layer(), upstream.lowest_layer(), idle_timeout,
                     asio::steady_timer(upstream.get_executor())};
  auto [to_upstream, to_client, idle_timed_out] =
      co_await (pump(client, client_pending, upstream, upstream.lowest_layer(), state) &&
                pump(upstream, upstream_pending, client, client.lowest_layer(), state) && watch_idle(state));
  co_return TunnelResult{to_upstream, to_client, idle_timed_out};
}

}  // namespace mg::proxy
