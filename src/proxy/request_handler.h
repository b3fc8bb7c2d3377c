#pragma once
// The request path every protocol shares: route the request, apply the route's filters, forward it
// through an upstream exchange (with the route's retries and the stale-connection replay), hand a copy
// to each mirror, filter the response, count it and log it. What is specific to a protocol (reading
// the body, writing the response) is the Downstream's (downstream.h).
//
// One handler serves the requests of one connection (HTTP/1.1) or one stream, one at a time; it keeps
// its scratch vectors and strings between requests, so that a keep-alive connection stops allocating
// for them after its first request.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <asio/awaitable.hpp>

#include "common/trace_context.h"
#include "http/message.h"
#include "mirror/response_comparison.h"
#include "proxy/downstream.h"
#include "proxy/listener_slot.h"
#include "proxy/session_context.h"
#include "route/cluster_set.h"
#include "route/route_table.h"
#include "upstream/exchange.h"

namespace mg::proxy {

class RequestHandler {
 public:
  // `listener`: the connection's, which outlives the handler.
  RequestHandler(SessionContext& context, ListenerSlot& listener);
  RequestHandler(const RequestHandler&) = delete;
  RequestHandler& operator=(const RequestHandler&) = delete;

  // Serves one request to its end. True when the connection may serve another one.
  asio::awaitable<bool> handle(Downstream& downstream, const DownstreamRequest& request);

  // Answers what never became a request (a malformed head, a head that timed out) and logs it.
  asio::awaitable<bool> reject(Downstream& downstream, std::string_view client_address, int status,
                               std::string_view message);

 private:
  using Clock = std::chrono::steady_clock;

  // What a request still needs once the client's head bytes may have been overwritten by body reads.
  struct RequestContext {
    Clock::time_point start;
    std::string method;
    std::string target;
    std::string host;
    std::string request_id;
    // W3C trace context: the client's trace (or one started here), the span of the gateway's request to
    // the backend and its traceparent, the tracestate passed on (empty: none, or the client's was invalid).
    bool traced = false;  // false for what never became a request
    TraceParent trace;
    SpanId span{};
    TraceparentValue traceparent{};
    std::string tracestate;
    std::string_view client_address;
    std::string_view protocol;  // a literal
    std::string_view client_method;  // a literal, when the client sent another method than `method`
    std::string_view route;  // views into the pinned table
    std::string_view rule;   // the rule's label (its name, else its index)
    std::string_view backend;
    std::string upstream_host;
    std::string_view upstream_pod;  // view into the pinned clusters
    std::string_view upstream_protocol;  // a literal
    std::string origin;             // only kept for routes with a CORS filter
    size_t mirrors = 0;
    bool copies_traced = false;  // a copy is in the mirror trace: the primary's outcome goes beside it
    uint32_t retries = 0;
    uint64_t request_bytes = 0;  // body bytes received from the client
    double upstream_ms = -1;     // request start to the backend's response head (-1: none came)
    // A WebSocket upgrade: the Upgrade value (a view into the client's head, read only before the
    // request is sent; afterwards only its emptiness tells that the request asked for a tunnel).
    std::string_view upgrade;
  };

  // The configuration a request runs on, pinned for its whole life (mirror copies pin it too).
  struct Pinned {
    std::shared_ptr<const route::RouteTable> table;
    std::shared_ptr<const route::ClusterSet> clusters;  // built for that table's cluster indices
  };

  void reserve_memory();
  RequestContext& start_request(const DownstreamRequest* request, std::string_view client_address);
  asio::awaitable<bool> forward(Downstream& downstream, const DownstreamRequest& request,
                                const Pinned& pinned, const route::Rule& rule, const route::BackendChoice& backend,
                                const route::MatchResult& match);
  asio::awaitable<bool> relay_response(Downstream& downstream, const route::Rule& rule,
                                       const route::BackendChoice& backend, upstream::Exchange& exchange,
                                       mirror::PrimaryCapture& compared);
  // The 101 out and the connection a tunnel until it ends; always false (the connection ends with it).
  asio::awaitable<bool> tunnel(Downstream& downstream, const route::Rule& rule, const route::BackendChoice& backend,
                               upstream::Exchange& exchange);
  // The response's fields after the rule's and backendRef's response filters (a view of the backend's
  // when no filter applies).
  std::span<const http::Header> filter_response_headers(const route::Rule& rule, const route::BackendChoice& backend,
                                                        const http::ResponseHead& response);
  asio::awaitable<bool> reply_redirect(Downstream& downstream, const DownstreamRequest& request,
                                       const route::RequestRedirect& redirect, const route::Listener& listener,
                                       const route::MatchResult& match, bool close);
  asio::awaitable<bool> reply_local(Downstream& downstream, int status, std::string_view message, bool close,
                                    std::span<const http::Header> headers = {});
  void launch_mirrors(const route::Rule& rule, const route::BackendChoice& backend,
                      const Pinned& pinned, std::string head,
                      std::shared_ptr<const std::string> body, const http::BodyCapture& capture,
                      mirror::PrimaryCapture& compared);
  // Counts and logs the request's end; always false (the value a failed request returns).
  bool finish(int status, uint64_t bytes, std::string_view error);

  SessionContext& context_;
  ListenerSlot& listener_;
  RequestContext ctx_;  // the current request's, reused across requests
  std::vector<route::HeaderView> header_views_;
  std::vector<http::Header> forward_headers_;   // request headers after filters
  std::vector<http::Header> response_headers_;  // response headers after filters
};

}  // namespace mg::proxy
