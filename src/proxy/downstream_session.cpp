#include "proxy/downstream_session.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "common/byte_buffer.h"
#include "common/request_id.h"
#include "http/parser.h"
#include "http/serializer.h"
#include "http/syntax.h"
#include "mirror/mirror_context.h"
#include "mirror/response_comparison.h"
#include "mirror/shadow_writer.h"
#include "net/client_stream.h"
#include "net/socket_watchdog.h"
#include "net/tls_context.h"
#include "proxy/body_relay.h"
#include "proxy/filters/cors.h"
#include "proxy/filters/header_modifier.h"
#include "proxy/filters/path_rewrite.h"
#include "proxy/filters/redirect.h"
#include "upstream/exchange.h"

namespace mg::proxy {
namespace {

using asio::ip::tcp;
using http::append_downstream_response_head;
using http::append_upstream_request_head;
using http::ForwardingInfo;
using http::local_reply;
using http::OutgoingRequest;
using stats::RequestLogEntry;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 16 * 1024;
constexpr int kClientClosedRequest = 499;  // nginx's convention for "the client went away first"
constexpr std::chrono::milliseconds kTlsShutdownTimeout{1000};

// What a request still needs once its head bytes may have been overwritten by body reads.
struct RequestContext {
  Clock::time_point start;
  std::string method;
  std::string target;
  std::string host;
  std::string request_id;
  std::string_view route;    // views into the pinned table
  std::string_view backend;
  std::string upstream_host;
  std::string_view upstream_pod;  // view into the pinned table
  std::string origin;  // only kept for routes with a CORS filter
  size_t mirrors = 0;
  uint32_t retries = 0;
};

class Session {
 public:
  Session(SessionContext& context, net::ClientStream& stream, net::SocketWatchdog& watchdog, size_t listener_index)
      : context_(context),
        options_(context.options),
        stream_(stream),
        listener_index_(listener_index),
        watchdog_(watchdog),
        buffer_(kReadChunk),
        client_(flag_defaults()) {
    reserve_request_memory();
    idle_entry_.owner = this;
    idle_entry_.trim = [](void* session) { static_cast<Session*>(session)->release_request_memory(); };
    std::error_code ec;
    auto remote = stream_.lowest_layer().remote_endpoint(ec);
    client_ip_ = ec ? "unknown" : remote.address().to_string();
    client_address_ = ec ? "unknown" : client_ip_ + ":" + std::to_string(remote.port());
  }

  ~Session() { context_.idle.unlink(idle_entry_); }  // a frame destroyed in its wait (shutdown)
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  asio::awaitable<void> run() {
    for (;;) {
      bool closed = false;
      http::ParseResult parsed = co_await read_head(closed);
      if (closed) co_return;
      if (parsed.status == http::ParseStatus::kError) {
        // The framing of whatever follows is unknown now: answer and close (never guess).
        RequestContext& ctx = context_from_head(false);
        co_await reply_local(ctx, parsed.error_status, parsed.error, true);
        co_return;
      }
      served_a_request_ = true;
      bool keep_alive = co_await handle_request();
      if (!keep_alive) co_return;
    }
  }

 private:
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
        if (watchdog_.fired() && !buffer_.empty()) {
          RequestContext& ctx = context_from_head(false);
          co_await reply_local(ctx, 408, "request header timeout", true);
        }
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
  // else waits until they can be read, listed as idle so that the worker may trim this session's memory
  // (proxy/idle_sessions.h). A TLS connection reads instead: its library may hold decrypted bytes that
  // no socket readiness announces. False when the client closed or the idle timeout passed.
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
    if (std::exchange(idle_entry_.trimmed, false)) reserve_request_memory();
    co_return !ec;
  }

  // What a request uses, reserved up front so that a busy connection does not allocate per request.
  void reserve_request_memory() {
    head_.headers.reserve(32);
    header_views_.reserve(32);
    forward_headers_.reserve(40);
  }

  // An idle connection's memory, given back by the worker's trim: only what the next request
  // re-allocates (its capacity is what a keep-alive connection saves per request).
  void release_request_memory() {
    buffer_.release();
    std::vector<http::Header>().swap(head_.headers);
    std::vector<route::HeaderView>().swap(header_views_);
    std::vector<http::Header>().swap(forward_headers_);
    std::vector<http::Header>().swap(response_headers_);
    for (std::string* s : {&out_, &request_head_, &ctx_.method, &ctx_.target, &ctx_.host, &ctx_.request_id,
                           &ctx_.upstream_host, &ctx_.origin})
      std::string().swap(*s);
  }

  route::ClientLimits flag_defaults() const {
    return {options_.limits, options_.max_request_body, options_.header_timeout, options_.idle_timeout};
  }

  // The listener's ClientTrafficPolicy over the flags, re-resolved only when a reload changed it (the
  // pinned settings pointer cannot be reused by a different object while we hold it).
  void refresh_client_limits() {
    const auto& listeners = context_.table->listeners;
    if (listener_index_ >= listeners.size()) return;
    const auto& settings = listeners[listener_index_].client_traffic;
    if (settings == client_settings_) return;
    client_settings_ = settings;
    client_ = route::effective_client_limits(settings.get(), flag_defaults());
  }

  // Resets the connection's request context for a new request. Its strings keep their capacity, so a
  // keep-alive connection stops allocating for them after its first request.
  RequestContext& context_from_head(bool complete) {
    RequestContext& ctx = ctx_;
    ctx.start = Clock::now();
    ctx.method.clear();
    ctx.target.clear();
    ctx.host.clear();
    ctx.request_id.clear();
    ctx.route = ctx.backend = ctx.upstream_pod = {};
    ctx.upstream_host.clear();
    ctx.origin.clear();
    ctx.mirrors = 0;
    ctx.retries = 0;
    if (complete) {
      ctx.method = head_.method;
      ctx.target = head_.target;
      ctx.host = head_.host;
      std::string_view given = head_.find("x-request-id");
      if (is_acceptable_request_id(given)) {
        ctx.request_id = given;
      } else {
        generate_request_id(ctx.request_id);
      }
    }
    return ctx;
  }

  asio::awaitable<bool> handle_request() {
    struct InFlight {
      std::atomic<int>& n;
      explicit InFlight(std::atomic<int>& c) : n(c) { n.fetch_add(1, std::memory_order_relaxed); }
      ~InFlight() { n.fetch_sub(1, std::memory_order_relaxed); }
    } in_flight(context_.in_flight);

    std::shared_ptr<const route::RouteTable> table = context_.table;  // pinned for this request
    std::shared_ptr<const route::ClusterSet> clusters = context_.clusters;  // pinned with it
    RequestContext& ctx = context_from_head(true);
    // The head is consumed now, whatever happens next; head_'s views stay valid until the next read
    // into buffer_ (consume() only moves the cursor).
    buffer_.consume(head_.head_length);
    const bool has_body = head_.framing != http::BodyFraming::kNone;
    // A local reply cannot leave an unread body on a connection that stays open.
    const bool keep_alive = head_.keep_alive && !context_.draining.load(std::memory_order_relaxed);
    const bool close_after_local = !keep_alive || has_body;
    head_minor_version_ = head_.minor_version;

    header_views_.clear();
    for (const auto& h : head_.headers) header_views_.push_back({h.name, h.value});
    route::MatchResult match;
    const route::Listener* listener = nullptr;
    if (listener_index_ < table->listeners.size()) {
      listener = &table->listeners[listener_index_];
      match = listener->find({head_.method, head_.host, head_.target, header_views_});
    }
    if (!match.rule) co_return co_await reply_local(ctx, 404, "no route matched", close_after_local);
    const route::Rule& rule = *match.rule;
    ctx.route = rule.route;

    // Filters that answer without a backend: CORS preflight, then redirect.
    if (rule.filters.cors) ctx.origin = head_.find("origin");
    if (rule.filters.cors &&
        filters::is_preflight(head_.method, ctx.origin, head_.find("access-control-request-method"))) {
      std::string headers = filters::preflight_headers(*rule.filters.cors, ctx.origin,
                                                       head_.find("access-control-request-method"),
                                                       head_.find("access-control-request-headers"));
      co_return co_await reply_local(ctx, 204, "", close_after_local, headers);
    }
    if (rule.filters.redirect)
      co_return co_await reply_redirect(ctx, *rule.filters.redirect, *listener, match, close_after_local);

    const route::BackendChoice* backend = upstream::LoadBalancer::pick_backend(rule);
    if (!backend) co_return co_await reply_local(ctx, 500, "route has no usable backend", close_after_local);
    ctx.backend = backend->name;
    if (backend->filters.redirect)
      co_return co_await reply_redirect(ctx, *backend->filters.redirect, *listener, match, close_after_local);
    if (backend->cluster < 0)
      co_return co_await reply_local(ctx, 500, "backend not found: " + backend->name, close_after_local);

    // The request as forwarded: the rule's filters, then the backendRef's.
    forward_headers_.assign(head_.headers.begin(), head_.headers.end());
    std::string_view target = head_.target;
    std::string rewritten_target;
    for (const route::Filters* f : {&rule.filters, &backend->filters}) {
      filters::apply_header_modifier(f->request_headers, forward_headers_);
      if (f->rewrite) {
        if (f->rewrite->path.kind != route::PathModifierKind::kNone) {
          rewritten_target = filters::rewrite_target(target, f->rewrite->path, match.matched_prefix);
          target = rewritten_target;
        }
        if (!f->rewrite->hostname.empty()) filters::set_header(forward_headers_, "Host", f->rewrite->hostname);
      }
    }

    // HTTP/1.0 lets a client name no host; the HTTP/1.1 request sent on its behalf must carry one: the
    // authority of an absolute-form target, else the backend Service's.
    if (!has_header(forward_headers_, "host")) {
      std::string_view host = head_.host;
      if (host.empty()) host = table->clusters[static_cast<size_t>(backend->cluster)].authority;
      forward_headers_.push_back({"Host", host});
    }

    // Everything below may read more bytes into buffer_, which invalidates head_'s views: serialise first.
    const http::BodyFraming body_framing = head_.framing;
    const uint64_t body_length = head_.content_length;
    if (client_.max_request_body && body_framing == http::BodyFraming::kContentLength &&
        body_length > client_.max_request_body)
      co_return co_await reply_local(ctx, 413, "request body larger than the limit", true);
    const bool expect_continue = head_.expect_continue;
    const OutgoingRequest outgoing{head_.method, target, forward_headers_, head_.connection};
    const ForwardingInfo forwarding{client_ip_, ctx.request_id, scheme()};
    std::string& request_head = request_head_;
    request_head.clear();
    append_upstream_request_head(request_head, outgoing, forwarding, body_framing, body_length);

    const size_t mirror_count = rule.mirrors.size() + backend->mirrors.size();
    std::string mirror_head;
    if (mirror_count > 0) {
      // The copy always carries a Content-Length: its whole body is known before it is sent. One
      // allocation: the primary's head plus room for that field.
      mirror_head.reserve(request_head.size() + 32);
      append_upstream_request_head(mirror_head, outgoing, forwarding, http::BodyFraming::kNone, 0);
      mirror_head.resize(mirror_head.size() - 2);  // reopen the head to add the length later
    }

    // Retries resend the request, so its body is kept (within the same bound as a mirror copy's). It
    // is kept once: every mirror copy and every retry shares these bytes, none copies them again.
    const uint32_t tries = 1 + rule.retry.attempts;
    const bool capture_body = has_body && (mirror_count > 0 || tries > 1);
    auto body_copy = capture_body ? std::make_shared<std::string>() : empty_body();
    BodyCapture capture{body_copy.get(),
                        mirror::body_capture_limit(rule.mirrors, backend->mirrors, context_.mirror.options.body_limit)};
    if (capture_body && body_framing == http::BodyFraming::kContentLength && body_length <= capture.limit)
      body_copy->reserve(body_length);  // one allocation, no regrowth while the body streams through
    const auto request_deadline =
        rule.timeouts.request.count() > 0 ? ctx.start + rule.timeouts.request : Clock::time_point::max();
    const auto try_timeout =
        rule.timeouts.backend_request.count() > 0 ? rule.timeouts.backend_request : options_.response_timeout;
    mirror::PrimaryCapture compared;  // the response, for mirrors that compare theirs with it (rarely any)

    upstream::Exchange exchange(context_.upstream);
    bool body_sent = false;  // the client's body went out once; later tries replay body_copy
    // A pooled connection the backend closed just as we reused it fails before any response byte
    // (Exchange::lost_reuse_race). That request is sent again once on a new connection, outside the
    // route's retry policy, when it can be replayed; it does not count as a try.
    bool replay_used = false, replay_next = false;
    for (uint32_t attempt = 0;; attempt += replay_next ? 0 : 1) {
      const bool fresh_connection = std::exchange(replay_next, false);
      const bool replayable = !has_body || (capture_body && !capture.overflowed);
      const bool can_retry = attempt + 1 < tries && replayable && Clock::now() < request_deadline;
      auto replay_on_new_connection = [&](bool write_failed) {
        replay_next = !replay_used && replayable && exchange.lost_reuse_race(write_failed);
        replay_used = replay_used || replay_next;
        return replay_next;
      };
      if (attempt > 0 && !fresh_connection) {
        ctx.retries = attempt;
        asio::steady_timer pause(stream_.get_executor(), retry_backoff(rule.retry, attempt));
        co_await pause.async_wait(kNoThrow);
      }

      const auto connected =
          co_await exchange.connect(*clusters, backend->cluster, options_.connect_timeout, fresh_connection);
      if (const route::Endpoint* endpoint = exchange.endpoint()) {
        ctx.upstream_host = endpoint->address;
        ctx.upstream_pod = endpoint->pod;
      }
      if (connected != upstream::ConnectResultKind::kConnected) {
        if (can_retry) continue;
        if (connected == upstream::ConnectResultKind::kNoEndpoint)
          co_return co_await reply_local(ctx, 503, "no healthy upstream", close_after_local);
        co_return co_await reply_local(ctx, attempt > 0 ? 503 : 502, "upstream connect error",
                                       close_after_local || attempt > 0);
      }

      if (!body_sent) {
        body_sent = true;
        if (expect_continue && has_body && buffer_.empty()) {
          // We read the body now; tell the client to send it (the Expect field is not forwarded).
          if (!co_await write_all(stream_, "HTTP/1.1 100 Continue\r\n\r\n", {}))
            co_return finish(ctx, kClientClosedRequest, 0, "client closed");
        }
        out_ = request_head;
        RelayTimeouts request_timeouts{&watchdog_, &exchange.watchdog(), client_.idle_timeout,
                                       options_.response_timeout};
        uint64_t body_limit = client_.max_request_body;
        RelayResult sent = co_await relay_body(stream_, buffer_, body_framing, body_length,
                                               exchange.connection().socket, body_framing, out_,
                                               capture_body ? &capture : nullptr, request_timeouts, body_limit);
        switch (sent.status) {
          case RelayStatus::kDone:
            break;
          case RelayStatus::kSourceMalformed:
            co_return co_await reply_local(ctx, 400, "invalid chunked request body", true);
          case RelayStatus::kTooLarge:
            co_return co_await reply_local(ctx, 413, "request body larger than the limit", true);
          case RelayStatus::kSourceFailed:
            co_return finish(ctx, kClientClosedRequest, 0, "client closed or timed out during request body");
          case RelayStatus::kSinkFailed:
            // Only a body-less request can go again: the rest of a body is still unread from the client.
            if (!has_body && (replay_on_new_connection(true) || can_retry)) continue;
            co_return co_await reply_local(ctx, 502, "upstream closed during request", true);
        }
        // The copy is taken once, from the first try: retries are the primary's business.
        if (mirror_count > 0)
          launch_mirrors(rule, *backend, table, clusters, ctx, std::move(mirror_head), body_copy, capture,
                         compared);
      } else {
        // A retry or a replay: the kept head and body, written as they are (the body is not copied).
        const std::array<asio::const_buffer, 2> replay{asio::buffer(request_head), asio::buffer(*body_copy)};
        if (!co_await exchange.write(replay, options_.response_timeout)) {
          if (replay_on_new_connection(true) || can_retry) continue;
          co_return co_await reply_local(ctx, 503, "upstream closed during request", close_after_local);
        }
      }

      auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(request_deadline - Clock::now());
      auto timeout = request_deadline == Clock::time_point::max() ? try_timeout : std::min(try_timeout, remaining);
      switch (co_await exchange.read_head(ctx.method, options_.limits,
                                          std::max(timeout, std::chrono::milliseconds(1)))) {
        case upstream::HeadResult::kOk:
          if (can_retry && retry_on_status(rule.retry, exchange.head().status)) {
            context_.upstream.stats.count_upstream(ctx.backend, exchange.head().status);
            continue;  // the connection is dropped with its unread body
          }
          co_return co_await relay_response(ctx, rule, *backend, exchange, keep_alive, compared);
        case upstream::HeadResult::kTimeout:
          context_.upstream.stats.count_upstream(ctx.backend, 504);
          if (can_retry && Clock::now() < request_deadline) continue;
          co_return co_await reply_local(ctx, 504, "upstream request timeout", !keep_alive);
        case upstream::HeadResult::kClosed:
          if (replay_on_new_connection(false)) continue;
          context_.upstream.stats.count_upstream(ctx.backend, 502);
          if (can_retry) continue;
          co_return co_await reply_local(ctx, attempt > 0 ? 503 : 502,
                                         attempt > 0 ? "upstream reset before response, retries exhausted"
                                                     : "upstream closed before responding",
                                         !keep_alive);
        case upstream::HeadResult::kMalformed:
          context_.upstream.stats.count_upstream(ctx.backend, 502);
          co_return co_await reply_local(ctx, 502, "invalid response from upstream", !keep_alive);
      }
    }
  }

  static std::chrono::milliseconds retry_backoff(const route::RetryPolicy& retry, uint32_t attempt) {
    // The configured backoff, or Envoy's 25 ms base; doubled per retry, capped at ten times the base.
    auto base = retry.backoff.count() > 0 ? retry.backoff : std::chrono::milliseconds(25);
    auto wait = base * (1u << std::min<uint32_t>(attempt - 1, 3));
    return std::min(wait, base * 10);
  }

  static bool retry_on_status(const route::RetryPolicy& retry, int status) {
    for (int code : retry.codes)
      if (code == status) return true;
    return false;
  }

  asio::awaitable<bool> reply_redirect(RequestContext& ctx, const route::RequestRedirect& redirect,
                                       const route::Listener& listener, const route::MatchResult& match, bool close) {
    std::string location = filters::redirect_location(
        redirect, filters::RedirectInput{scheme(), head_.host, head_.target, listener.port, match.matched_prefix});
    co_return co_await reply_local(ctx, redirect.status_code, "redirecting to " + location, close,
                                   "Location: " + location + "\r\n");
  }

  void launch_mirrors(const route::Rule& rule, const route::BackendChoice& backend,
                      const std::shared_ptr<const route::RouteTable>& table,
                      const std::shared_ptr<const route::ClusterSet>& clusters, RequestContext& ctx, std::string head,
                      std::shared_ptr<const std::string> body, const BodyCapture& capture,
                      mirror::PrimaryCapture& compared) {
    auto targets = {std::span<const route::MirrorTarget>(rule.mirrors),
                    std::span<const route::MirrorTarget>(backend.mirrors)};
    if (!body->empty()) fmt::format_to(std::back_inserter(head), "Content-Length: {}\r\n", body->size());
    mirror::MirrorRequest request{
        .table = table,
        .clusters = clusters,
        .route = rule.route,
        .request_id = ctx.request_id,
        .method = ctx.method,
        .rule_index = rule.rule_index,
        .primary_host = ctx.upstream_host,
        .primary_pod = ctx.upstream_pod,
        .head = std::make_shared<const std::string>(std::move(head)),
        .body = std::move(body),
        .body_too_large = capture.overflowed,  // each copy is dropped and logged (body_too_large)
    };
    size_t index = 0;
    for (auto list : targets)
      for (const auto& target : list) mirror::send_copy(context_.mirror, request, target, index++, &compared);
    ctx.mirrors = rule.mirrors.size() + backend.mirrors.size();
  }

  asio::awaitable<bool> relay_response(RequestContext& ctx, const route::Rule& rule,
                                       const route::BackendChoice& backend, upstream::Exchange& exchange,
                                       bool keep_alive, mirror::PrimaryCapture& compared) {
    const http::ResponseHead& response = exchange.head();
    auto& upstream_buffer = exchange.connection().buffer;
    context_.upstream.stats.count_upstream(ctx.backend, response.status);
    context_.upstream.stats.record_upstream_latency(ctx.route, ctx.backend, Clock::now() - ctx.start);

    // How the body goes to the client: lengths pass through; anything else is chunked for an HTTP/1.1
    // client, or delimited by closing for HTTP/1.0.
    bool close_client = !keep_alive;
    http::BodyFraming down_framing = response.framing;
    uint64_t down_length = response.content_length;
    const bool body_allowed = response.status != 204 && response.status != 304 && ctx.method != "HEAD";
    if (response.framing == http::BodyFraming::kNone && body_allowed) {
      down_framing = http::BodyFraming::kContentLength;
      down_length = 0;
    } else if (response.framing == http::BodyFraming::kChunked ||
               response.framing == http::BodyFraming::kUntilClose) {
      if (head_minor_version_ == 0) {
        down_framing = http::BodyFraming::kUntilClose;
        close_client = true;
      } else {
        down_framing = http::BodyFraming::kChunked;
      }
    }

    // ResponseHeaderModifier and CORS work on a copy of the header list (views stay in the upstream buffer).
    std::span<const http::Header> headers = response.headers;
    if (!rule.filters.response_headers.empty() || rule.filters.cors || !backend.filters.response_headers.empty()) {
      response_headers_.assign(response.headers.begin(), response.headers.end());
      filters::apply_header_modifier(rule.filters.response_headers, response_headers_);
      filters::apply_header_modifier(backend.filters.response_headers, response_headers_);
      if (rule.filters.cors) filters::add_response_headers(*rule.filters.cors, ctx.origin, response_headers_);
      headers = response_headers_;
    }
    out_.clear();
    append_downstream_response_head(out_, response, headers, down_framing, down_length, close_client,
                                    ctx.request_id, !body_allowed);
    const int status = response.status;
    compared.head(status, response.headers);
    upstream_buffer.consume(response.head_length);

    RelayTimeouts timeouts{&exchange.watchdog(), &watchdog_, options_.response_timeout, client_.idle_timeout};
    RelayResult relayed = co_await relay_body(exchange.connection().socket, upstream_buffer, response.framing,
                                              response.content_length, stream_, down_framing, out_,
                                              compared.body(), timeouts, 0);
    switch (relayed.status) {
      case RelayStatus::kDone:
        break;
      case RelayStatus::kSourceFailed:
      case RelayStatus::kSourceMalformed:
      case RelayStatus::kTooLarge:
        // Found before anything went out (a bad chunk in the first bytes read): the answer is still a 502.
        if (!relayed.wrote)
          co_return co_await reply_local(ctx, 502, "invalid response body from upstream", true);
        // The head is out already: closing is the only honest signal that the body was cut short.
        co_return finish(ctx, status, relayed.bytes, "upstream failed during response body");
      case RelayStatus::kSinkFailed:
        co_return finish(ctx, kClientClosedRequest, relayed.bytes, "client closed during response body");
    }
    exchange.finish(true);
    finish(ctx, status, relayed.bytes, {});
    compared.deliver();  // after the answer is out and logged: a comparison never delays or times it
    co_return !close_client;
  }

  asio::awaitable<bool> reply_local(RequestContext& ctx, int status, std::string_view message, bool close,
                                    std::string_view extra_header_lines = {}) {
    std::string reply = local_reply(status, message, close, ctx.request_id, extra_header_lines);
    watchdog_.reset_fired();
    bool written = co_await write_all(stream_, reply, RelayTimeouts{nullptr, &watchdog_, {}, client_.idle_timeout});
    finish(ctx, status, message.size() + 1, message);
    co_return written && !close;
  }

  bool finish(const RequestContext& ctx, int status, uint64_t bytes, std::string_view error) {
    context_.upstream.stats.count_downstream(ctx.route, status);
    if (context_.access_log.enabled()) {
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - ctx.start).count();
      context_.access_log.log(RequestLogEntry{.request_id = ctx.request_id,
                                               .client = client_address_,
                                               .method = ctx.method,
                                               .host = ctx.host,
                                               .target = ctx.target,
                                               .route = ctx.route,
                                               .backend = ctx.backend,
                                               .upstream_host = ctx.upstream_host,
                                               .upstream_pod = ctx.upstream_pod,
                                               .status = status,
                                               .response_bytes = bytes,
                                               .duration_ms = ms,
                                               .mirrors = ctx.mirrors,
                                               .error = error});
    }
    return false;
  }

  static bool has_header(std::span<const http::Header> headers, std::string_view name) {
    return std::any_of(headers.begin(), headers.end(),
                       [&](const http::Header& h) { return http::iequals(h.name, name); });
  }

  // The shared body of requests that keep none (mirror copies of body-less requests): no allocation.
  // Per thread, so workers do not contend on its reference count.
  static const std::shared_ptr<std::string>& empty_body() {
    thread_local const auto empty = std::make_shared<std::string>();
    return empty;
  }

  std::string_view scheme() const { return stream_.is_tls() ? "https" : "http"; }

  SessionContext& context_;
  const SessionOptions& options_;
  net::ClientStream& stream_;
  size_t listener_index_;
  net::SocketWatchdog& watchdog_;
  ByteBuffer buffer_;
  http::RequestHead head_;
  std::vector<route::HeaderView> header_views_;
  std::vector<http::Header> forward_headers_;   // request headers after filters
  std::vector<http::Header> response_headers_;  // response headers after filters
  int head_minor_version_ = 1;
  std::string client_ip_;
  std::string client_address_;
  std::string out_;           // reused for every head this connection serialises
  std::string request_head_;  // the upstream request head, kept for retries
  RequestContext ctx_;        // the current request's context, reused across keep-alive requests
  bool served_a_request_ = false;  // a request head was read on this connection
  IdleSessions::Entry idle_entry_;  // listed while waiting for the next request
  route::ClientLimits client_;  // this listener's limits and client timeouts (policy over flags)
  std::shared_ptr<const route::ClientTrafficSettings> client_settings_;  // what client_ was resolved from
};

}  // namespace

asio::awaitable<void> serve_downstream(SessionContext& context, tcp::socket socket, size_t listener_index) {
  auto& stats = context.upstream.stats;
  ++stats.downstream_connections_total;
  ++stats.downstream_connections_active;
  struct Active {
    stats::WorkerStats& s;
    ~Active() { --s.downstream_connections_active; }
  } active{stats};
  // The listener's TLS context, pinned for the connection (the SNI callback points into it).
  std::shared_ptr<const net::TlsServerContext> tls;
  if (const auto& table = context.table; listener_index < table->listeners.size())
    tls = table->listeners[listener_index].tls;
  net::ClientStream stream = tls ? net::ClientStream(std::move(socket), tls->context())
                                 : net::ClientStream(std::move(socket));
  net::SocketWatchdog watchdog(stream.lowest_layer());
  if (tls) {
    // Bounded like a request head (a silent client cannot hold the slot); a failed handshake just closes.
    watchdog.arm(context.options.header_timeout);
    auto [ec] = co_await stream.async_handshake(kNoThrow);
    watchdog.disarm();
    if (ec) {
      ++stats.tls_handshake_failures_total;
      co_return;
    }
  }
  Session session(context, stream, watchdog, listener_index);
  co_await session.run();
  if (tls && stream.lowest_layer().is_open()) {
    // close_notify, so that a client reading a close-delimited body knows it was not cut short.
    // Bounded: a peer that neither answers nor closes does not hold the connection.
    watchdog.reset_fired();
    watchdog.arm(kTlsShutdownTimeout);
    co_await stream.async_shutdown(kNoThrow);
    watchdog.disarm();
  }
}

}  // namespace mg::proxy
