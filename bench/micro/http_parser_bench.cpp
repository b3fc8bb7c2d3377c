// Parser throughput on the heads a gateway sees most: a browser-like GET (about 500 bytes) and a
// backend's JSON response head. The parser is stateless and re-parses from the start after each read,
// so the partial case (head split mid-way, then complete) is measured too.

#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "http/parser.h"

namespace {

const std::string kRequest =
    "GET /api/v1/products/12345/reviews?sort=recent&page=2 HTTP/1.1\r\n"
    "Host: shop.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
    "Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://shop.example.com/products/12345\r\n"
    "Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark\r\n"
    "Connection: keep-alive\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Cache-Control: max-age=0\r\n"
    "\r\n";

const std::string kResponse =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Date: Wed, 26 Nov 2026 14:00:00 GMT\r\n"
    "Content-Length: 512\r\n"
    "\r\n";

void BM_ParseRequestHead(benchmark::State& state) {
  mg::http::Limits limits;
  mg::http::RequestHead head;
  for (auto _ : state) {
    head.clear();
    auto r = mg::http::parse_request_head(kRequest, limits, head);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head.headers.data());
  }
  if (mg::http::parse_request_head(kRequest, limits, head).status != mg::http::ParseStatus::kComplete)
    state.SkipWithError("request did not parse");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRequest.size()));
  state.counters["head_bytes"] = static_cast<double>(kRequest.size());
}
BENCHMARK(BM_ParseRequestHead);

// Two reads: the first ends mid-header (kIncomplete), the second completes the head.
void BM_ParseRequestHeadSplit(benchmark::State& state) {
  mg::http::Limits limits;
  mg::http::RequestHead head;
  const std::string_view first = std::string_view(kRequest).substr(0, kRequest.size() / 2);
  for (auto _ : state) {
    head.clear();
    benchmark::DoNotOptimize(mg::http::parse_request_head(first, limits, head));
    head.clear();
    benchmark::DoNotOptimize(mg::http::parse_request_head(kRequest, limits, head));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRequest.size()));
}
BENCHMARK(BM_ParseRequestHeadSplit);

void BM_ParseResponseHead(benchmark::State& state) {
  mg::http::Limits limits;
  mg::http::ResponseHead head;
  for (auto _ : state) {
    head.clear();
    auto r = mg::http::parse_response_head(kResponse, limits, "GET", head);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head.headers.data());
  }
  if (mg::http::parse_response_head(kResponse, limits, "GET", head).status != mg::http::ParseStatus::kComplete)
    state.SkipWithError("response did not parse");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kResponse.size()));
}
BENCHMARK(BM_ParseResponseHead);

}  // namespace

BENCHMARK_MAIN();
