#pragma once
// One request/response exchange with a backend, the upstream half of every request: the primary's
// (proxy/downstream_session.cpp) and every mirror copy's (mirror/shadow_writer.cpp). It picks an
// endpoint, takes a pooled connection or opens one, sends the request, reads the response head
// (skipping 1xx), and then hands the body out decoded, piece by piece, for the caller to relay, or
// discards it itself; at the end a connection whose response was read completely goes back to the pool.
// What goes over the wire is its wire's, chosen once with the exchange from the cluster's protocol:
// HTTP/1.1 bytes on a connection of its own (http1_wire.h, whose bytes the exchange reads and writes), or
// a stream of a shared h2c connection (h2_stream_wire.h). Callers speak messages and never ask which.
// Every wait is bounded by the exchange's deadline (arm). The exchange knows nothing of the client: a
// downstream HTTP/1 connection and an HTTP/2 stream drive it the same way.

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>

#include "http/body_capture.h"
#include "http/message.h"
#include "http/serializer.h"
#include "net/socket_watchdog.h"
#include "route/cluster_set.h"
#include "upstream/exchange_result.h"
#include "upstream/h2_stream_wire.h"
#include "upstream/http1_wire.h"
#include "upstream/tls_connection.h"
#include "upstream/upstream_connection.h"
#include "upstream/upstream_context.h"

namespace mg::upstream {

class Exchange {
 public:
  // `protocol`: the cluster's (route::ClusterEndpoints::protocol), which picks the wire for every try.
  explicit Exchange(UpstreamContext& context, route::UpstreamProtocol protocol = route::UpstreamProtocol::kHttp1)
      : context_(context) {
    if (protocol == route::UpstreamProtocol::kH2c) wire_.emplace<H2StreamWire>();
  }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // An endpoint of `cluster` by the balancer: its idle pooled connection unless `fresh`, else a new one.
  // A failed connect is tried once more on the next endpoint (nothing was sent yet, so that is safe).
  asio::awaitable<ConnectResultKind> connect(const route::ClusterSet& clusters, int cluster,
                                             std::chrono::milliseconds timeout, bool fresh);
  // This endpoint, chosen by the caller (a mirror passes over ejected endpoints): its idle pooled
  // connection unless `fresh`, else a new one. An h2c exchange takes a shared h2c connection with room
  // for a stream instead (h2c_connection.h; `fresh` means nothing there). With `tls` (a BackendTLSPolicy)
  // the connection is TLS, in process (tls_connection.h).
  asio::awaitable<ConnectResultKind> connect_to(const route::Endpoint& endpoint, std::chrono::milliseconds timeout,
                                                bool fresh,
                                                const std::shared_ptr<const net::UpstreamTlsContext>& tls = nullptr);

  const route::Endpoint* endpoint() const { return endpoint_; }  // the last one tried; null: none
  bool connected() const { return h2() ? h2()->attached() : connection_ != nullptr; }
  // A pooled connection (HTTP/1.1) or an h2c connection other exchanges opened: no new connect.
  bool reused() const { return h2() ? reused_h2_ : connection_->reused; }
  // The HTTP/1.1 connection, for the 101 tunnel only (an h2 backend never answers 101 to us).
  UpstreamConnection& connection() { return *connection_; }

  // The deadline of whatever waits on the backend: the callers that relay a body arm it per read or
  // write, a mirror copy once for everything, write and read_head for their own timeouts. On expiry
  // an HTTP/1.1 connection is closed (with `cancel_only`, its pending operations are cancelled), an h2
  // stream is reset (CANCEL), so the wait fails; fired() then tells a timeout from a close. The callers
  // never see the connection's socket watchdog: an h2 connection shared by several exchanges must end
  // only this one's stream. Arming starts a new deadline (fired() is false until it passes); without a
  // connection there is nothing to wait on, and nothing to arm.
  void arm(std::chrono::steady_clock::duration timeout, bool cancel_only = false) {
    if (H2StreamWire* w = h2()) return w->arm(timeout);
    if (!watchdog_) return;
    watchdog_->reset_fired();
    watchdog_->arm(timeout, cancel_only);
  }
  void disarm() {
    if (H2StreamWire* w = h2()) return w->disarm();
    if (watchdog_) watchdog_->disarm();
  }
  bool fired() const {
    if (const H2StreamWire* w = h2()) return w->fired();
    return watchdog_ && watchdog_->fired();
  }
  // Makes whatever waits on the backend now fail at once (the client went away): a cut-short answer,
  // which its caller does not give back to the pool.
  void cancel();

  // The request head, taken before the client's views go and kept for every try (retries, the replay):
  // serialised for HTTP/1.1 (http1_wire.h) or mapped to fields for h2 (h2_stream_wire.h). It goes out
  // with the first send_body.
  void set_request(const http::OutgoingRequest& request, const http::ForwardingInfo& info,
                   http::BodyFraming framing, uint64_t length) {
    if (H2StreamWire* w = h2()) return w->set_request(request, info, framing, length);
    http1().set_request(request, info, framing, length);
  }
  // The serialised HTTP/1.1 head; empty for an h2 exchange, which has none.
  std::string_view request_head() const {
    return h2() ? std::string_view{} : std::string_view(std::get<Http1Wire>(wire_).request_head());
  }
  // Sends the next piece of the request body (decoded; the exchange frames it as the head says), the head
  // first; `last` ends the body, with the client's `trailers` when the framing carries them (HTTP/1.1
  // chunked only). Within `timeout`; false when the backend is gone or too slow. A body-less request:
  // send_body({}, true).
  asio::awaitable<bool> send_body(std::string_view piece, bool last, std::span<const http::Header> trailers,
                                  std::chrono::milliseconds timeout);
  // A retry or a replay on this (new) connection: the kept head and the whole kept body again.
  asio::awaitable<bool> resend(std::string_view body, std::chrono::milliseconds timeout);
  // A whole request as HTTP/1.1 bytes, head and body (a mirror copy's, whose head MirrorPolicy edits as
  // text), within `timeout`; false when the backend is gone or too slow. An h2 exchange parses the head
  // once into fields (H2StreamWire::set_request_bytes).
  asio::awaitable<bool> write(std::span<const asio::const_buffer> buffers, std::chrono::milliseconds timeout);
  // The final response head into head(); 1xx answers are read and dropped. A 101 is final when the
  // request asked for an upgrade, else malformed. The head's views stay valid until the first read_body.
  asio::awaitable<HeadResult> read_head(std::string_view method, const http::Limits& limits,
                                        std::chrono::milliseconds timeout, bool upgrade_requested = false);
  const http::ResponseHead& head() const {
    if (const H2StreamWire* w = h2()) return w->head();
    return connection_->response_head;
  }
  // Why the last connect ended in kTlsFailed, for the reply and the log.
  const std::string& tls_error() const { return tls_error_; }
  // The next piece of the response body, decoded from its framing (a length, chunks, up to the close; or
  // DATA), as a view valid until the next call: the piece counts as taken then, so a caller writes it on
  // before it asks for more, and the backend is read no faster than the client takes the body. `timeout`
  // bounds this call (0: the deadline armed before keeps running). After kDone, trailers() holds the
  // trailer fields (of a chunked body, or h2 trailers).
  asio::awaitable<BodyRead> read_body(std::string_view& piece, std::chrono::milliseconds timeout);
  // The same without a wait, for the pieces read already (no coroutine, no deadline): kWait when the
  // next one needs read_body.
  BodyRead take_body(std::string_view& piece) {
    if (H2StreamWire* w = h2()) return w->take_body(piece);
    switch (http1().next_piece(piece)) {
      case WireRead::kOk:
        return BodyRead::kData;
      case WireRead::kDone:
        return BodyRead::kDone;
      case WireRead::kNeedMore:
        return BodyRead::kWait;
      case WireRead::kMalformed:
        break;
    }
    return BodyRead::kMalformed;
  }
  std::span<const http::Header> trailers() const {
    if (const H2StreamWire* w = h2()) return w->trailers();
    return std::get<Http1Wire>(wire_).trailers();
  }
  // More of the body is read already: the next read_body needs no wait (a caller may gather pieces).
  bool body_buffered() const {
    if (const H2StreamWire* w = h2()) return w->buffered();
    return std::get<Http1Wire>(wire_).buffered();
  }
  // Reads the response body and throws it away, after `capture` (if any) saw it. The deadline armed
  // before it (by write or read_head) keeps running: a mirror copy has one deadline for everything.
  asio::awaitable<DiscardResult> discard_body(http::BodyCapture* capture);

  // The backend closed a reused connection just as we took it from the pool: the write failed, or the
  // read found a clean EOF before any byte of a response. Such a request never reached the backend and
  // may be sent once more on a new connection. (A reset after the request went out is no such race; an
  // h2 stream the backend refused goes again inside read_head.)
  bool lost_reuse_race(bool write_failed) const {
    return connection_ && connection_->reused && connection_->buffer.empty() && (write_failed || eof_);
  }
  // The response was read completely: the connection goes back to the pool when both sides allow it,
  // else it is closed (an h2 stream still open is reset). Either way the exchange holds no connection
  // afterwards.
  void finish(bool response_complete);

 private:
  H2StreamWire* h2() { return std::get_if<H2StreamWire>(&wire_); }
  const H2StreamWire* h2() const { return std::get_if<H2StreamWire>(&wire_); }
  Http1Wire& http1() { return *std::get_if<Http1Wire>(&wire_); }
  void adopt(std::unique_ptr<UpstreamConnection> connection);
  // Reads more of the backend's bytes into the connection's buffer; false on EOF (eof_), error or deadline.
  asio::awaitable<bool> read_more();
  asio::awaitable<ConnectResultKind> connect_h2(const route::Endpoint& endpoint, std::chrono::milliseconds timeout,
                                                const std::shared_ptr<const net::UpstreamTlsContext>& tls);
  asio::awaitable<ConnectResultKind> connect_tls_to(const route::Endpoint& endpoint, std::chrono::milliseconds timeout,
                                                    bool fresh,
                                                    const std::shared_ptr<const net::UpstreamTlsContext>& tls);
  // Counts and words a failed TLS connect (handshake or certificate check) for the reply and the log.
  ConnectResultKind tls_failed(const route::Endpoint& endpoint, const net::UpstreamTlsContext& tls,
                               const TlsConnectResult& connected);

  UpstreamContext& context_;
  const route::Endpoint* endpoint_ = nullptr;
  std::unique_ptr<UpstreamConnection> connection_;  // HTTP/1.1's
  std::optional<net::SocketWatchdog> watchdog_;     // watches connection_'s TCP socket (under TLS, if any)
  std::variant<Http1Wire, H2StreamWire> wire_;      // chosen by the constructor, once
  bool eof_ = false;                                // the last read ended in a clean EOF
  bool reused_h2_ = false;                          // the h2c connection was open before this connect
  std::string tls_error_;
};

}  // namespace mg::upstream
