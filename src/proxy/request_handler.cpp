#include "proxy/request_handler.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <span>
#include <utility>

#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/request_id.h"
#include "http/serializer.h"
#include "http/syntax.h"
#include "mirror/mirror_context.h"
#include "mirror/shadow_writer.h"
#include "proxy/filters/cors.h"
#include "proxy/filters/header_modifier.h"
#include "proxy/filters/path_rewrite.h"
#include "proxy/filters/redirect.h"
#include "proxy/upgrade.h"

namespace mg::proxy {
namespace {

using http::append_upstream_request_head;
using http::ForwardingInfo;
using http::OutgoingRequest;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr int kClientClosedRequest = 499;  // nginx's convention for "the client went away first"

std::chrono::milliseconds retry_backoff(const route::RetryPolicy& retry, uint32_t attempt) {
  // The configured backoff, or Envoy's 25 ms base; doubled per retry, capped at ten times the base.
  auto base = retry.backoff.count() > 0 ? retry.backoff : std::chrono::milliseconds(25);
  auto wait = base * (1u << std::min<uint32_t>(attempt - 1, 3));
  return std::min(wait, base * 10);
}

bool retry_on_status(const route::RetryPolicy& retry, int status) {
  return std::find(retry.codes.begin(), retry.codes.end(), status) != retry.codes.end();
}

bool has_header(std::span<const http::Header> headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(), [&](const http::Header& h) { return http::iequals(h.name, name); });
}

// The shared body of requests that keep none (mirror copies of body-less requests): no allocation.
// Per thread, so workers do not contend on its reference count.
const std::shared_ptr<std::string>& empty_body() {
  thread_local const auto empty = std::make_shared<std::string>();
  return empty;
}

// A local reply cannot leave an unread body on a connection that stays open.
bool local_reply_closes(const DownstreamRequest& request) {
  return !request.keep_alive || request.framing != http::BodyFraming::kNone;
}

// W3C trace context: a single valid traceparent keeps the client's trace (and its tracestate, joined and
// checked); anything else starts a new trace without tracestate. Allocates only to join tracestate lines.
void read_trace_context(std::span<const http::Header> headers, double sampling_ratio, TraceParent& trace,
                        std::string& tracestate) {
  tracestate.clear();
  std::string_view traceparent;
  int traceparents = 0;
  bool tracestate_too_long = false;
  for (const auto& h : headers) {
    if (h.name.size() == 11 && http::iequals(h.name, "traceparent")) {
      traceparent = h.value;
      ++traceparents;
    } else if (h.name.size() == 10 && http::iequals(h.name, "tracestate") && !tracestate_too_long) {
      tracestate_too_long = tracestate.size() + 1 + h.value.size() > kMaxTracestateSize;
      if (tracestate_too_long) continue;
      if (!tracestate.empty()) tracestate += ',';
      tracestate.append(h.value);
    }
  }
  if (traceparents == 1 && parse_traceparent(traceparent, trace)) {
    if (tracestate_too_long || !is_valid_tracestate(tracestate)) tracestate.clear();
    return;
  }
  trace = start_trace(sampling_ratio);
  tracestate.clear();
}

}  // namespace

RequestHandler::RequestHandler(SessionContext& context, ListenerSlot& listener)
    : context_(context), listener_(listener) {
  reserve_memory();
}

// What a request uses, reserved up front so that a busy connection does not allocate per request.
void RequestHandler::reserve_memory() {
  header_views_.reserve(32);
  forward_headers_.reserve(40);
}

// Resets the request context for a new request (null: one that never parsed). Its strings keep their
// capacity between requests.
RequestHandler::RequestContext& RequestHandler::start_request(const DownstreamRequest* request,
                                                              std::string_view client_address) {
  RequestContext& ctx = ctx_;
  ctx.start = Clock::now();
  ctx.method.clear();
  ctx.target.clear();
  ctx.host.clear();
  ctx.request_id.clear();
  ctx.traced = request != nullptr;
  ctx.client_address = client_address;
  ctx.protocol = request ? request->protocol : std::string_view{};
  ctx.client_method = request ? request->client_method : std::string_view{};
  ctx.route = ctx.rule = ctx.backend = ctx.upstream_pod = ctx.upstream_protocol = {};
  ctx.upstream_ms = -1;
  ctx.upstream_host.clear();
  ctx.origin.clear();
  ctx.mirrors = 0;
  ctx.copies_traced = false;
  ctx.retries = 0;
  ctx.request_bytes = 0;
  ctx.upgrade = {};
  if (request) {
    ctx.method = request->method;
    ctx.target = request->target;
    ctx.host = request->host;
    std::string_view given = http::find_header(request->headers, "x-request-id");
    if (is_acceptable_request_id(given)) {
      ctx.request_id = given;
    } else {
      generate_request_id(ctx.request_id);
    }
    read_trace_context(request->headers, context_.options.trace_sampling_ratio, ctx.trace, ctx.tracestate);
  }
  return ctx;
}

asio::awaitable<bool> RequestHandler::reject(Downstream& downstream, std::string_view client_address, int status,
                                             std::string_view message) {
  start_request(nullptr, client_address);
  co_return co_await reply_local(downstream, status, message, true);
}

asio::awaitable<bool> RequestHandler::handle(Downstream& downstream, const DownstreamRequest& request) {
  InFlight in_flight(context_.in_flight);
  const std::shared_ptr<const route::RouteTable> table = context_.table;  // pinned for this request
  const std::shared_ptr<const route::ClusterSet> clusters = context_.clusters;  // pinned with it
  RequestContext& ctx = start_request(&request, request.client_address);
  const bool close_after_local = local_reply_closes(request);

  // A reverse proxy has no tunnel to open (RFC 9110 9.3.6): the method is known, and not served here.
  if (request.method == "CONNECT") co_return co_await reply_local(downstream, 501, "CONNECT is not supported", true);

  header_views_.clear();
  for (const auto& h : request.headers) header_views_.push_back({h.name, h.value});
  route::MatchResult match;
  const route::Listener* listener = listener_.resolve(*table);
  if (listener && listener->misdirected(request.host, listener_.server_name()))
    co_return co_await reply_local(downstream, 421, "misdirected request: the host is served by another TLS listener; "
                                   "open a connection for it", close_after_local);
  if (listener) match = listener->find({request.method, request.host, request.target, header_views_});
  if (!match.rule) co_return co_await reply_local(downstream, 404, "no route matched", close_after_local);
  const UpgradeRequest upgrade = classify_upgrade(request.headers, request.connection);
  if (upgrade.kind == UpgradeKind::kRefused)
    co_return co_await reply_local(downstream, 403, "upgrade not allowed: only websocket is", true);
  // The bytes behind an upgrade request's head are the new protocol's: a body there could smuggle a
  // second request past the routing (to a backend that refuses the upgrade and reads on).
  if (upgrade.kind == UpgradeKind::kWebSocket && request.framing != http::BodyFraming::kNone)
    co_return co_await reply_local(downstream, 400, "upgrade request with a body", true);
  ctx.upgrade = upgrade.protocol;
  const route::Rule& rule = *match.rule;
  ctx.route = rule.route;
  ctx.rule = rule.label;

  // Filters that answer without a backend: CORS preflight, then redirect.
  if (rule.filters.cors) ctx.origin = http::find_header(request.headers, "origin");
  const std::string_view preflight_method = http::find_header(request.headers, "access-control-request-method");
  if (rule.filters.cors && filters::is_preflight(request.method, ctx.origin, preflight_method)) {
    auto fields = filters::preflight_headers(*rule.filters.cors, ctx.origin, preflight_method,
                                             http::find_header(request.headers, "access-control-request-headers"));
    std::vector<http::Header> headers;
    for (const auto& f : fields) headers.push_back({f.name, f.value});
    co_return co_await reply_local(downstream, 204, "", close_after_local, headers);
  }
  if (rule.filters.redirect)
    co_return co_await reply_redirect(downstream, request, *rule.filters.redirect, *listener, match,
                                      close_after_local);

  const route::BackendChoice* backend = upstream::LoadBalancer::pick_backend(rule);
  if (!backend) co_return co_await reply_local(downstream, 500, "route has no usable backend", close_after_local);
  ctx.backend = backend->name;
  if (backend->filters.redirect)
    co_return co_await reply_redirect(downstream, request, *backend->filters.redirect, *listener, match,
                                      close_after_local);
  if (backend->cluster < 0) {
    const std::string message = "backend not found: " + backend->name;
    co_return co_await reply_local(downstream, 500, message, close_after_local);
  }
  // Arguments are named values, never temporaries: g++ 12 destroys a temporary in a `co_return co_await`
  // expression twice (here a shared_ptr: the table was freed while still in use).
  const Pinned pinned{table, clusters};
  co_return co_await forward(downstream, request, pinned, rule, *backend, match);
}

// The request to the backend, its retries and its mirror copies.
asio::awaitable<bool> RequestHandler::forward(Downstream& downstream, const DownstreamRequest& request,
                                              const Pinned& pinned, const route::Rule& rule,
                                              const route::BackendChoice& backend, const route::MatchResult& match) {
  const route::RouteTable& table = *pinned.table;
  RequestContext& ctx = ctx_;
  const SessionOptions& options = context_.options;
  const bool has_body = request.framing != http::BodyFraming::kNone;
  const bool close_after_local = local_reply_closes(request);

  // The request as forwarded: the rule's filters, then the backendRef's.
  forward_headers_.assign(request.headers.begin(), request.headers.end());
  std::string_view target = request.target;
  std::string rewritten_target;
  for (const route::Filters* f : {&rule.filters, &backend.filters}) {
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
    std::string_view host = request.host;
    if (host.empty()) host = table.clusters[static_cast<size_t>(backend.cluster)].authority;
    forward_headers_.push_back({"Host", host});
  }

  // Everything below may read more of the client's bytes, which invalidates the request's views:
  // serialise first.
  if (request.max_body && request.framing == http::BodyFraming::kContentLength &&
      request.content_length > request.max_body)
    co_return co_await reply_local(downstream, 413, "request body larger than the limit", true);
  const bool upgrade = !ctx.upgrade.empty();
  const OutgoingRequest outgoing{request.method, target, forward_headers_, request.connection, ctx.upgrade};
  // The backend's request is a span of its own under the client's (retries resend it as it is).
  ctx.span = new_span_id();
  ctx.traceparent = format_traceparent(ctx.trace.trace_id, ctx.span, ctx.trace.sampled);
  const ForwardingInfo forwarding{request.client_ip, ctx.request_id, request.scheme, view(ctx.traceparent),
                                  ctx.tracestate};
  const route::ClusterEndpoints* endpoints = pinned.clusters->find(backend.cluster);
  upstream::Exchange exchange(context_.upstream, endpoints ? endpoints->protocol : route::UpstreamProtocol::kHttp1);
  exchange.set_request(outgoing, forwarding, request.framing, request.content_length);

  const size_t mirror_count = rule.mirrors.size() + backend.mirrors.size();
  std::string mirror_head;
  if (mirror_count > 0) {
    // The copy always carries a Content-Length: its whole body is known before it is sent. One
    // allocation: the primary's head plus room for that field (an h2 primary has no HTTP/1.1 head).
    // Each copy adds a traceparent with a span of its own (shadow_writer.cpp), so the shared head has none.
    mirror_head.reserve(exchange.request_head().size() + 32);
    ForwardingInfo copy_forwarding = forwarding;
    copy_forwarding.traceparent = {};
    append_upstream_request_head(mirror_head, outgoing, copy_forwarding, http::BodyFraming::kNone, 0);
    mirror_head.resize(mirror_head.size() - 2);  // reopen the head to add the length later
  }

  // Retries resend the request, so its body is kept (within the same bound as a mirror copy's). It
  // is kept once: every mirror copy and every retry shares these bytes, none copies them again.
  // A tunnel is opened once: its bytes cannot be replayed.
  const uint32_t tries = upgrade ? 1 : 1 + rule.retry.attempts;
  const bool capture_body = has_body && (mirror_count > 0 || tries > 1);
  auto body_copy = capture_body ? std::make_shared<std::string>() : empty_body();
  http::BodyCapture capture{body_copy.get(), mirror::body_capture_limit(rule.mirrors, backend.mirrors,
                                                                        context_.mirror.options.body_limit)};
  if (capture_body && request.framing == http::BodyFraming::kContentLength && request.content_length <= capture.limit)
    body_copy->reserve(request.content_length);  // one allocation, no regrowth while the body streams through
  const auto request_deadline =
      rule.timeouts.request.count() > 0 ? ctx.start + rule.timeouts.request : Clock::time_point::max();
  const auto try_timeout =
      rule.timeouts.backend_request.count() > 0 ? rule.timeouts.backend_request : options.response_timeout;
  mirror::PrimaryCapture compared;  // the response, for mirrors that compare theirs with it (rarely any)

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
      asio::steady_timer pause(co_await asio::this_coro::executor, retry_backoff(rule.retry, attempt));
      co_await pause.async_wait(kNoThrow);
    }

    // A tunnel gets a connection of its own: never a pooled one, never pooled after (Exchange::finish).
    const auto connected = co_await exchange.connect(*pinned.clusters, backend.cluster, options.connect_timeout,
                                                     fresh_connection || upgrade);
    if (const route::Endpoint* endpoint = exchange.endpoint()) {
      ctx.upstream_host = endpoint->address;
      ctx.upstream_pod = endpoint->pod;
      ctx.upstream_protocol = route::upstream_protocol_name(endpoints->protocol);
    }
    if (connected != upstream::ConnectResultKind::kConnected) {
      if (can_retry) continue;
      if (connected == upstream::ConnectResultKind::kNoEndpoint)
        co_return co_await reply_local(downstream, 503, "no healthy upstream", close_after_local);
      if (connected == upstream::ConnectResultKind::kTlsFailed)  // BackendTLSPolicy: the backend is not who it should be
        co_return co_await reply_local(downstream, 502, "upstream TLS error", close_after_local);
      co_return co_await reply_local(downstream, attempt > 0 ? 503 : 502, "upstream connect error",
                                     close_after_local || attempt > 0);
    }

    if (!body_sent) {
      body_sent = true;
      RelayResult sent = co_await downstream.send_request_body(exchange, capture_body ? &capture : nullptr);
      ctx.request_bytes = sent.bytes;
      switch (sent.status) {
        case RelayStatus::kDone:
          break;
        case RelayStatus::kSourceMalformed:
          co_return co_await reply_local(downstream, 400, "invalid chunked request body", true);
        case RelayStatus::kTooLarge:
          co_return co_await reply_local(downstream, 413, "request body larger than the limit", true);
        case RelayStatus::kSourceFailed:
          co_return finish(kClientClosedRequest, 0, "client closed or timed out during request body");
        case RelayStatus::kSinkFailed:
          // Only a body-less request can go again: the rest of a body is still unread from the client.
          if (!has_body && (replay_on_new_connection(true) || can_retry)) continue;
          co_return co_await reply_local(downstream, 502, "upstream closed during request", true);
      }
      // The copy is taken once, from the first try: retries are the primary's business.
      if (mirror_count > 0) launch_mirrors(rule, backend, pinned, std::move(mirror_head), body_copy, capture, compared);
    } else {
      // A retry or a replay: the kept head and body (not copied; framed again as the head says).
      if (!co_await exchange.resend(*body_copy, options.response_timeout)) {
        if (replay_on_new_connection(true) || can_retry) continue;
        co_return co_await reply_local(downstream, 503, "upstream closed during request", close_after_local);
      }
    }

    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(request_deadline - Clock::now());
    auto timeout = request_deadline == Clock::time_point::max() ? try_timeout : std::min(try_timeout, remaining);
    switch (co_await exchange.read_head(ctx.method, options.limits, std::max(timeout, std::chrono::milliseconds(1)),
                                        upgrade)) {
      case upstream::HeadResult::kOk:
        if (exchange.head().status == 101) co_return co_await tunnel(downstream, rule, backend, exchange);
        if (can_retry && retry_on_status(rule.retry, exchange.head().status)) {
          context_.upstream.stats.count_upstream(ctx.backend, exchange.head().status);
          continue;  // the connection is dropped with its unread body
        }
        if (!co_await relay_response(downstream, rule, backend, exchange, compared)) co_return false;
        co_return request.keep_alive;
      case upstream::HeadResult::kTimeout:
        context_.upstream.stats.count_upstream(ctx.backend, 504);
        if (can_retry && Clock::now() < request_deadline) continue;
        co_return co_await reply_local(downstream, 504, "upstream request timeout", !request.keep_alive);
      case upstream::HeadResult::kClosed:
        if (replay_on_new_connection(false)) continue;
        context_.upstream.stats.count_upstream(ctx.backend, 502);
        if (can_retry) continue;
        co_return co_await reply_local(downstream, attempt > 0 ? 503 : 502,
                                       attempt > 0 ? "upstream reset before response, retries exhausted"
                                                   : "upstream closed before responding",
                                       !request.keep_alive);
      case upstream::HeadResult::kMalformed:
        context_.upstream.stats.count_upstream(ctx.backend, 502);
        co_return co_await reply_local(downstream, 502, "invalid response from upstream", !request.keep_alive);
    }
  }
}

asio::awaitable<bool> RequestHandler::reply_redirect(Downstream& downstream, const DownstreamRequest& request,
                                                     const route::RequestRedirect& redirect,
                                                     const route::Listener& listener, const route::MatchResult& match,
                                                     bool close) {
  std::string location = filters::redirect_location(
      redirect, filters::RedirectInput{request.scheme, request.host, request.target, listener.port,
                                       match.matched_prefix});
  const std::array<http::Header, 1> headers{http::Header{"Location", location}};
  const std::string message = "redirecting to " + location;
  co_return co_await reply_local(downstream, redirect.status_code, message, close, headers);
}

void RequestHandler::launch_mirrors(const route::Rule& rule, const route::BackendChoice& backend,
                                    const Pinned& pinned, std::string head,
                                    std::shared_ptr<const std::string> body, const http::BodyCapture& capture,
                                    mirror::PrimaryCapture& compared) {
  auto targets = {std::span<const route::MirrorTarget>(rule.mirrors),
                  std::span<const route::MirrorTarget>(backend.mirrors)};
  if (!body->empty()) fmt::format_to(std::back_inserter(head), "Content-Length: {}\r\n", body->size());
  mirror::MirrorRequest request{
      .table = pinned.table,
      .clusters = pinned.clusters,
      .route = rule.route,
      .rule = rule.label,
      .request_id = ctx_.request_id,
      .trace_id = ctx_.trace.trace_id,
      .sampled = ctx_.trace.sampled,
      .method = ctx_.method,
      .rule_index = rule.rule_index,
      .primary_host = ctx_.upstream_host,
      .primary_pod = ctx_.upstream_pod,
      .head = std::make_shared<const std::string>(std::move(head)),
      .body = std::move(body),
      .body_too_large = capture.overflowed,  // each copy is dropped and logged (body_too_large)
      .upgrade = !ctx_.upgrade.empty(),
  };
  size_t index = 0;
  for (auto list : targets)
    for (const auto& target : list)
      ctx_.copies_traced |= mirror::send_copy(context_.mirror, request, target, index++, &compared);
  ctx_.mirrors = rule.mirrors.size() + backend.mirrors.size();
}

// False when the request ended badly: the connection must close.
asio::awaitable<bool> RequestHandler::relay_response(Downstream& downstream, const route::Rule& rule,
                                                     const route::BackendChoice& backend,
                                                     upstream::Exchange& exchange, mirror::PrimaryCapture& compared) {
  RequestContext& ctx = ctx_;
  const http::ResponseHead& response = exchange.head();
  context_.upstream.stats.count_upstream(ctx.backend, response.status);
  const auto upstream_latency = Clock::now() - ctx.start;
  context_.upstream.stats.record_upstream_latency(ctx.route, ctx.backend, upstream_latency);
  ctx.upstream_ms = std::chrono::duration<double, std::milli>(upstream_latency).count();
  const std::span<const http::Header> headers = filter_response_headers(rule, backend, response);
  const int status = response.status;
  const bool body_allowed = status != 204 && status != 304 && ctx.method != "HEAD";
  compared.head(status, response.headers);

  const RelayResult sent =
      co_await downstream.send_response(exchange, {response, headers, body_allowed, ctx.request_id}, compared.body());
  switch (sent.status) {
    case RelayStatus::kDone:
      break;
    case RelayStatus::kSourceFailed:
    case RelayStatus::kSourceMalformed:
    case RelayStatus::kTooLarge:
      // Found before anything went out (a bad chunk in the first bytes read): the answer is still a 502.
      if (!sent.wrote)
        co_return co_await reply_local(downstream, 502, "invalid response body from upstream", true);
      // The head is out already: closing is the only honest signal that the body was cut short.
      co_return finish(status, sent.bytes, "upstream failed during response body");
    case RelayStatus::kSinkFailed:
      co_return finish(kClientClosedRequest, sent.bytes, "client closed during response body");
  }
  // The connection of a refused upgrade is not pooled: it was opened for a tunnel only.
  exchange.finish(ctx.upgrade.empty());
  finish(status, sent.bytes, {});
  compared.deliver();  // after the answer is out and logged: a comparison never delays or times it
  co_return true;
}

std::span<const http::Header> RequestHandler::filter_response_headers(const route::Rule& rule,
                                                                     const route::BackendChoice& backend,
                                                                     const http::ResponseHead& response) {
  if (rule.filters.response_headers.empty() && !rule.filters.cors && backend.filters.response_headers.empty())
    return response.headers;
  // ResponseHeaderModifier and CORS work on a copy of the header list (views stay in the upstream buffer).
  response_headers_.assign(response.headers.begin(), response.headers.end());
  filters::apply_header_modifier(rule.filters.response_headers, response_headers_);
  filters::apply_header_modifier(backend.filters.response_headers, response_headers_);
  if (rule.filters.cors) filters::add_response_headers(*rule.filters.cors, ctx_.origin, response_headers_);
  return response_headers_;
}

asio::awaitable<bool> RequestHandler::tunnel(Downstream& downstream, const route::Rule& rule,
                                             const route::BackendChoice& backend, upstream::Exchange& exchange) {
  RequestContext& ctx = ctx_;
  const http::ResponseHead& response = exchange.head();
  auto& stats = context_.upstream.stats;
  stats.count_upstream(ctx.backend, 101);
  const auto upstream_latency = Clock::now() - ctx.start;
  stats.record_upstream_latency(ctx.route, ctx.backend, upstream_latency);
  ctx.upstream_ms = std::chrono::duration<double, std::milli>(upstream_latency).count();
  const std::span<const http::Header> headers = filter_response_headers(rule, backend, response);
  ++stats.tunnels_total;
  ++stats.tunnels_active;
  const TunnelResult relayed = co_await downstream.open_tunnel(exchange, {response, headers, false, ctx.request_id});
  --stats.tunnels_active;
  // One access-log line for the whole tunnel, at its end: bytes each way and how long it lasted.
  ctx.request_bytes = relayed.to_upstream;
  co_return finish(relayed.client_status, relayed.to_client, relayed.idle_timed_out ? "tunnel idle timeout" : "");
}

asio::awaitable<bool> RequestHandler::reply_local(Downstream& downstream, int status, std::string_view message,
                                                  bool close, std::span<const http::Header> headers) {
  const bool written = co_await downstream.send_local_reply({status, message, headers, close, ctx_.request_id});
  finish(status, message.size() + 1, message);
  co_return written && !close;
}

bool RequestHandler::finish(int status, uint64_t bytes, std::string_view error) {
  const RequestContext& ctx = ctx_;
  context_.upstream.stats.count_downstream(ctx.route, status);
  // The routing decision, at trace level only (a level check when it is off).
  spdlog::trace("request {}: {} {}{} -> route {} backend {} endpoint {} ({}): {}{}{}, {} mirror(s), {} retry(ies)",
                ctx.request_id, ctx.method, ctx.host, ctx.target, ctx.route.empty() ? "-" : ctx.route,
                ctx.backend.empty() ? "-" : ctx.backend, ctx.upstream_host.empty() ? "-" : ctx.upstream_host,
                ctx.upstream_pod.empty() ? "-" : ctx.upstream_pod, status, error.empty() ? "" : " ", error,
                ctx.mirrors, ctx.retries);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - ctx.start).count();
  if (ctx.copies_traced) {
    context_.mirror.trace.primaries.record_in_place([&](mirror::PrimaryOutcome& p) {
      p.time_us = mirror::now_us();
      p.request_id.assign(ctx.request_id);
      p.upstream_host.assign(ctx.upstream_host);
      p.upstream_pod.assign(ctx.upstream_pod);
      p.status = status;
      p.latency_ms = ms;
      p.response_bytes = bytes;
    });
  }
  if (context_.access_log.enabled()) {
    context_.access_log.log(stats::RequestLogEntry{.request_id = ctx.request_id,
                                                   .trace_id = ctx.traced ? view(ctx.trace.trace_id)
                                                                          : std::string_view{},
                                                   .client = ctx.client_address,
                                                   .method = ctx.client_method.empty() ? std::string_view(ctx.method)
                                                                                       : ctx.client_method,
                                                   .host = ctx.host,
                                                   .target = ctx.target,
                                                   .protocol = ctx.protocol,
                                                   .route = ctx.route,
                                                   .rule = ctx.rule,
                                                   .backend = ctx.backend,
                                                   .upstream_host = ctx.upstream_host,
                                                   .upstream_pod = ctx.upstream_pod,
                                                   .upstream_protocol = ctx.upstream_protocol,
                                                   .status = status,
                                                   .request_bytes = ctx.request_bytes,
                                                   .response_bytes = bytes,
                                                   .duration_ms = ms,
                                                   .upstream_duration_ms = ctx.upstream_ms,
                                                   .mirrors = ctx.mirrors,
                                                   .retries = ctx.retries,
                                                   .error = error});
  }
  return false;
}

}  // namespace mg::proxy
