// libFuzzer target for parse_response_head: never crash; a complete head lies inside the input with views
// into it, its status is a real status code, bodiless answers have no body framing, and errors are 502.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/parser.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::string_view view, std::string_view input) {
  return view.empty() || (view.data() >= input.data() && view.data() + view.size() <= input.data() + input.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte picks the request method the answer belongs to.
  static constexpr std::string_view kMethods[] = {"GET", "HEAD", "POST", "CONNECT"};
  const std::string_view method = kMethods[data[0] % 4];
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  mg::http::Limits limits;
  limits.max_request_line = 512;
  limits.max_header_bytes = 2048;
  limits.max_headers = 16;

  mg::http::ResponseHead head;
  mg::http::ParseResult r = mg::http::parse_response_head(in, limits, method, head);
  if (r.status == mg::http::ParseStatus::kError) {
    check(r.error_status == 502);
    return 0;
  }
  if (r.status == mg::http::ParseStatus::kIncomplete) return 0;

  check(head.head_length >= 4 && head.head_length <= in.size());
  check(in.substr(head.head_length - 4, 4) == "\r\n\r\n");
  check(head.status >= 100 && head.status <= 599);
  check(head.headers.size() <= limits.max_headers);
  const std::string_view head_bytes = in.substr(0, head.head_length);
  check(inside(head.reason, head_bytes) && inside(head.connection, head_bytes));
  for (const auto& h : head.headers) check(inside(h.name, head_bytes) && inside(h.value, head_bytes));
  const bool bodiless = head.status < 200 || head.status == 204 || head.status == 304 || method == "HEAD" ||
                        (method == "CONNECT" && head.status < 300);
  if (bodiless) check(head.framing == mg::http::BodyFraming::kNone);
  if (head.framing == mg::http::BodyFraming::kUntilClose) check(!head.keep_alive);
  if (head.framing == mg::http::BodyFraming::kContentLength) check(head.content_length > 0);

  std::string alone(head_bytes);
  mg::http::ResponseHead again;
  check(mg::http::parse_response_head(alone, limits, method, again).status == mg::http::ParseStatus::kComplete);
  check(again.head_length == head.head_length && again.status == head.status && again.framing == head.framing);
  mg::http::ResponseHead partial;
  check(mg::http::parse_response_head(alone.substr(0, alone.size() - 1), limits, method, partial).status !=
        mg::http::ParseStatus::kComplete);
  return 0;
}
