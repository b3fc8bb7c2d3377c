#include "proxy/http1_session.h"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <utility>

#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "common/byte_buffer.h"
#include "http/parser.h"
#include "http/serializer.h"
#include "proxy/body_relay.h"
#include "proxy/downstream.h"
#include "proxy/http2_session.h"
#include "proxy/request_handler.h"
#include "proxy/upgrade.h"

namespace mg::proxy {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 16 * 1024;

class Http1Session final : public Downstream {
 public:
  Http1Session(SessionContext& context, net::ClientStream& stream, net::SocketWatchdog& watchdog,
               ListenerSlot& listener, bool resumed)
      : context_(context),
        options_(context.options),
        stream_(stream),
        listener_(listener),
        watchdog_(watchdog),
        buffer_(kReadChunk),
        handler_(context, listener),
        client_(flag_defaults()) {
    served_a_request_ = resumed;
    head_.headers.reserve(32);
    idle_entry_.owner = this;
    idle_entry_.park = [](void* session) { static_cast<Http1Session*>(session)->end_for_parking(); };
    std::error_code ec;
    auto remote = stream_.lowest_layer().remote_endpoint(ec);
    client_ip_ = ec ? "unknown" : remote.address().to_string();
    client_address_ = ec ? "unknown" : client_ip_ + ":" + std::to_string(remote.port());
  }

  ~Http1Session() { context_.idle.unlink(idle_entry_); }  // a frame destroyed in its wait (shutdown)
  Http1Session(const Http1Session&) = delete;
  Http1Session& operator=(const Http1Session&) = delete;

  // Serves requests until the connection ends or, idle long enough, is to be parked.
  asio::awaitable<Http1End> run() {
    for (;;) {
      bool closed = false;
      http::ParseResult parsed = co_await read_head(closed);
      if (closed) {
        if (park_) co_return Http1End{true, idle_entry_.since + client_.idle_timeout, false, {}};
        co_return Http1End{};
      }
      // A new connection's first head is where HTTP/2 by prior knowledge shows (its preface reads as a
      // head): one flag test per request, a comparison once per connection.
      if (!served_a_request_ && buffer_.readable().starts_with(kHttp2PrefaceHead))
        co_return Http1End{false, {}, true, std::string(buffer_.readable())};
      if (parsed.status == http::ParseStatus::kError && !served_a_request_ && !speaks_http1()) {
        // Not HTTP/1 at all (no HTTP/1 version on the first line of a new connection): a broken HTTP/2
        // preface or another protocol gets no HTTP/1 answer, just the close (RFC 9113 3.4).
        co_return Http1End{};
      }
      if (parsed.status == http::ParseStatus::kError) {
        // The framing of whatever follows is unknown now: answer and close (never guess).
        co_await handler_.reject(*this, client_address_, parsed.error_status, parsed.error);
        co_return Http1End{};
      }
      served_a_request_ = true;
      // The head is consumed now, whatever happens next; head_'s views stay valid until the next read
      // into buffer_ (consume() only moves the cursor).
      buffer_.consume(head_.head_length);
      // A request that asks to switch protocols is this connection's last HTTP/1.1 one: after a 101 it is
      // a tunnel, after any other answer its next bytes may be the new protocol's, never a request. (An
      // ignored upgrade, h2c or one without Connection: upgrade, goes nowhere: the connection may go on.)
      const bool switching =
          head_.has_upgrade && classify_upgrade(head_.headers, head_.connection).kind != UpgradeKind::kNone;
      keep_alive_ = head_.keep_alive && !switching && !context_.draining.load(std::memory_order_relaxed);
      close_after_response_ = false;
      const DownstreamRequest request{
          .method = head_.method,
          .target = head_.target,
          .host = head_.host,
          .headers = head_.headers,
          .connection = head_.connection,
          .framing = head_.framing,
          .content_length = head_.content_length,
          .keep_alive = keep_alive_,
          .max_body = client_.max_request_body,
          .scheme = scheme(),
          .client_ip = client_ip_,
          .client_address = client_address_,
          .protocol = head_.minor_version == 0 ? "HTTP/1.0" : "HTTP/1.1",
          .client_method = {},
      };
      if (!co_await handler_.handle(*this, request) || close_after_response_) co_return Http1End{};
    }
  }

  // ---- Downstream ----

  // Not coroutines themselves: they return the relay's, one frame fewer per request (the relay's
  // arguments live in members, which outlive it).
  asio::awaitable<RelayResult> send_request_body(upstream::Exchange& exchange, http::BodyCapture* capture) override {
    relay_timeouts_ = {&watchdog_, nullptr, client_.idle_timeout, {}};  // the exchange times its own writes
    if (head_.expect_continue && head_.framing != http::BodyFraming::kNone && buffer_.empty())
      return continue_then_send_body(exchange, capture);
    return relay_request_body(exchange, capture);
  }

  asio::awaitable<RelayResult> send_response(upstream::Exchange& exchange, const DownstreamResponse& response,
                                             http::BodyCapture* capture) override {
    const http::ResponseHead& upstream = response.upstream;
    // How the body goes to the client: lengths pass through; anything else is chunked for an HTTP/1.1
    // client, or delimited by closing for HTTP/1.0.
    close_after_response_ = !keep_alive_;
    http::BodyFraming framing = upstream.framing;
    uint64_t length = upstream.content_length;
    if (upstream.framing == http::BodyFraming::kNone && response.body_allowed) {
      framing = http::BodyFraming::kContentLength;
      length = 0;
    } else if (upstream.framing == http::BodyFraming::kChunked ||
               upstream.framing == http::BodyFraming::kUntilClose) {
      if (head_.minor_version == 0) {
        framing = http::BodyFraming::kUntilClose;
        close_after_response_ = true;
      } else {
        framing = http::BodyFraming::kChunked;
      }
    }
    out_.clear();
    http::append_downstream_response_head(out_, upstream, response.headers, framing, length, close_after_response_,
                                          response.request_id, !response.body_allowed);
    relay_timeouts_ = {nullptr, &watchdog_, {}, client_.idle_timeout};  // the exchange times its own reads
    return relay_response_body(exchange, options_.response_timeout, stream_, framing, out_, capture, relay_timeouts_);
  }

  asio::awaitable<TunnelResult> open_tunnel(upstream::Exchange& exchange, const DownstreamResponse& response) override {
    out_.clear();
    http::append_switching_protocols_head(out_, response.upstream, response.headers, response.request_id);
    auto& upstream = exchange.connection();
    upstream.buffer.consume(response.upstream.head_length);
    watchdog_.reset_fired();
    if (!co_await write_all(stream_, out_, RelayTimeouts{nullptr, &watchdog_, {}, client_.idle_timeout}))
      co_return TunnelResult{};
    // Whatever the client sent behind its head (eager frames) is the tunnel's: the request had no body.
    const TunnelResult relayed =
        co_await run_tunnel(stream_, buffer_, upstream.stream, upstream.buffer, options_.tunnel_idle_timeout);
    co_return relayed;
  }

  asio::awaitable<bool> send_local_reply(const LocalReply& reply) override {
    std::string bytes = http::local_reply(reply.status, reply.message, reply.close, reply.request_id, reply.headers);
    watchdog_.reset_fired();
    const bool written =
        co_await write_all(stream_, bytes, RelayTimeouts{nullptr, &watchdog_, {}, client_.idle_timeout});
    co_return written && !reply.close;
  }

 private:
  // The client waits for "100 Continue" before it sends its body (the Expect field is not forwarded).
  asio::awaitable<RelayResult> continue_then_send_body(upstream::Exchange& exchange, http::BodyCapture* capture) {
    if (!co_await write_all(stream_, "HTTP/1.1 100 Continue\r\n\r\n", {}))
      co_return RelayResult{.status = RelayStatus::kSourceFailed};
    // Awaited into a named value: `co_return co_await` on this call crashed with g++ 12 (a coroutine
    // temporary destroyed twice, found by test_hostile_http).
    const RelayResult relayed = co_await relay_request_body(exchange, capture);
    co_return relayed;
  }

  asio::awaitable<RelayResult> relay_request_body(upstream::Exchange& exchange, http::BodyCapture* capture) {
    return proxy::relay_request_body(stream_, buffer_, head_.framing, head_.content_length, exchange,
                                     options_.response_timeout, capture, relay_timeouts_, client_.max_request_body, out_);
  }

  // Waits for a complete request head. Between keep-alive requests the idle timeout runs until the
  // first byte of the next one, the header timeout from there (slowloris). A new connection has had no
  // request yet, so the header timeout bounds its first byte too (nginx's client_header_timeout): a
  // connection that never speaks does not hold a slot for the whole idle timeout.
  asio::awaitable<http::ParseResult> read_head(bool& closed) {
    refresh_client_limits();
    watchdog_.reset_fired();
    const bool between_requests = buffer_.empty() && served_a_request_;
    watchdog_.arm(between_requests ? client_.idle_timeout : client_.header_timeout, true);
    if (between_requests && !stream_.is_tls()) {
      if (!co_await wait_for_next_request()) {
        watchdog_.disarm();
        closed = true;
        co_return http::ParseResult{};
      }
      if (!buffer_.empty()) {  // it read the first bytes itself: a request starts
        refresh_client_limits();
        watchdog_.arm(client_.header_timeout, true);
      }
    }
    for (;;) {
      if (!buffer_.empty()) {
        http::ParseResult r = http::parse_request_head(buffer_.readable(), client_.head, head_);
        if (r.status != http::ParseStatus::kIncomplete) {
          watchdog_.disarm();
          co_return r;
        }
      }
      bool was_empty = buffer_.empty();
      size_t available = 0;
      char* p = buffer_.prepare(kReadChunk, available);
      auto [ec, n] = co_await stream_.async_read_some(asio::buffer(p, available), kNoThrow);
      if (ec) {
        watchdog_.disarm();
        closed = true;
        if (watchdog_.fired() && !buffer_.empty())
          co_await handler_.reject(*this, client_address_, 408, "request header timeout");
        co_return http::ParseResult{};
      }
      buffer_.commit(n);
      if (was_empty) {  // a request starts: with the limits of the table current now, after any reload
        refresh_client_limits();
        watchdog_.arm(client_.header_timeout, true);
      }
    }
  }

  // Between requests on a plain connection: reads the next request's first bytes if they are there,
  // else waits until they can be read, listed as idle so that the worker may park the connection
  // (proxy/idle_sessions.h). A TLS connection reads instead: its library may hold decrypted bytes that
  // no socket readiness announces. False when the client closed, the idle timeout passed, or the
  // session is to end for parking (park_).
  asio::awaitable<bool> wait_for_next_request() {
    auto& socket = stream_.lowest_layer();
    // A client that sent its next request already (pipelining, or a busy gateway's fast client) needs
    // no wait: one non-blocking read takes it, the same read asio would try first. Tried before the wait
    // is queued, with no event-loop turn between: a request arriving after it is announced to the wait.
    size_t available = 0;
    char* p = buffer_.prepare(kReadChunk, available);
    const ssize_t n = ::recv(socket.native_handle(), p, available, MSG_DONTWAIT);
    if (n > 0) {
      buffer_.commit(static_cast<size_t>(n));
      co_return true;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) co_return false;
    context_.idle.link(idle_entry_, Clock::now());
    auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, kNoThrow);
    context_.idle.unlink(idle_entry_);
    if (park_ && watchdog_.fired()) park_ = false;  // the idle timeout came first: close
    co_return !ec;
  }

  // Called by the worker's idle sweep while this session waits: the wait is cancelled, and the session
  // ends with the connection handed back to be parked.
  void end_for_parking() {
    park_ = true;
    std::error_code ignored;
    stream_.lowest_layer().cancel(ignored);
  }

  route::ClientLimits flag_defaults() const {
    return {options_.limits, options_.max_request_body, options_.header_timeout, options_.idle_timeout};
  }

  // The listener's ClientTrafficPolicy over the flags, re-resolved only when a reload changed it (the
  // pinned settings pointer cannot be reused by a different object while we hold it).
  void refresh_client_limits() {
    const route::Listener* listener = listener_.resolve(*context_.table);
    if (!listener) return;
    const auto& settings = listener->client_traffic;
    if (settings == client_settings_) return;
    client_settings_ = settings;
    client_ = route::effective_client_limits(settings.get(), flag_defaults());
  }

  // The first line read ends with an HTTP version ("... HTTP/1.1"; HTTP/2.0 gets its 505).
  bool speaks_http1() {
    std::string_view first = buffer_.readable();
    first = first.substr(0, first.find_first_of("\r\n"));
    const size_t space = first.rfind(' ');
    return space != std::string_view::npos && first.substr(space + 1).starts_with("HTTP/");
  }

  std::string_view scheme() const { return stream_.is_tls() ? "https" : "http"; }

  SessionContext& context_;
  const SessionOptions& options_;
  net::ClientStream& stream_;
  ListenerSlot& listener_;
  net::SocketWatchdog& watchdog_;
  ByteBuffer buffer_;
  http::RequestHead head_;
  RequestHandler handler_;
  std::string client_ip_;
  std::string client_address_;
  std::string out_;                 // reused for every head this connection serialises
  bool keep_alive_ = true;          // the current request's: the connection may serve another
  bool close_after_response_ = false;  // the response's end is the connection's (HTTP/1.0, no length)
  RelayTimeouts relay_timeouts_;       // the current body relay's
  bool served_a_request_ = false;   // a request head was read on this connection (before a park too)
  bool park_ = false;               // ending to be parked, not closed
  IdleSessions::Entry idle_entry_;  // listed while waiting for the next request
  route::ClientLimits client_;      // this listener's limits and client timeouts (policy over flags)
  std::shared_ptr<const route::ClientTrafficSettings> client_settings_;  // what client_ was resolved from
};

}  // namespace

asio::awaitable<Http1End> serve_http1(SessionContext& context, net::ClientStream& stream,
                                      net::SocketWatchdog& watchdog, ListenerSlot& listener, bool resumed) {
  Http1Session session(context, stream, watchdog, listener, resumed);
  const Http1End end = co_await session.run();
  co_return end;
}

}  // namespace mg::proxy
