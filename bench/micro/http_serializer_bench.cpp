// Serialising the head sent to a backend: hop-by-hop fields dropped, forwarding fields added, re-framed.
// The output string is reused across iterations, as the session reuses its buffer.

#include <benchmark/benchmark.h>

#include <string>

#include "http/parser.h"
#include "http/serializer.h"

namespace {

const std::string kRequest =
    "POST /api/v1/orders?source=web HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
    "Safari/537.36\r\n"
    "Accept: application/json\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 128\r\n"
    "Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark\r\n"
    "Connection: keep-alive, x-trace-hop\r\n"
    "X-Trace-Hop: 1\r\n"
    "Keep-Alive: timeout=5\r\n"
    "X-Forwarded-For: 203.0.113.7\r\n"
    "\r\n";

void BM_AppendUpstreamRequestHead(benchmark::State& state) {
  mg::http::Limits limits;
  mg::http::RequestHead head;
  if (mg::http::parse_request_head(kRequest, limits, head).status != mg::http::ParseStatus::kComplete) {
    state.SkipWithError("request did not parse");
    return;
  }
  const mg::http::ForwardingInfo info{"127.0.0.1", "4f9c2a7e-1b3d-4c8e-9a6f-2d5b7e1c3a90", "http"};
  std::string out;
  out.reserve(2048);
  for (auto _ : state) {
    out.clear();
    mg::http::append_upstream_request_head(out, head, info, head.framing, head.content_length);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
  state.counters["out_bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_AppendUpstreamRequestHead);

// The mirror's copy is serialised into a fresh string per request (downstream_session.cpp).
void BM_AppendUpstreamRequestHeadFreshString(benchmark::State& state) {
  mg::http::Limits limits;
  mg::http::RequestHead head;
  if (mg::http::parse_request_head(kRequest, limits, head).status != mg::http::ParseStatus::kComplete) {
    state.SkipWithError("request did not parse");
    return;
  }
  const mg::http::ForwardingInfo info{"127.0.0.1", "4f9c2a7e-1b3d-4c8e-9a6f-2d5b7e1c3a90", "http"};
  for (auto _ : state) {
    std::string out;
    mg::http::append_upstream_request_head(out, head, info, mg::http::BodyFraming::kNone, 0);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_AppendUpstreamRequestHeadFreshString);

}  // namespace

BENCHMARK_MAIN();
