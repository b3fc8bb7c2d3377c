// libFuzzer target for parse_request_head: never crash, and every answer is self-consistent: a complete
// head lies inside the input and its views point into it (the target may be its own origin-form); an
// error carries an HTTP status; a prefix of a complete head is never complete; and the result does not
// depend on what follows the head.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/parser.h"

namespace {

using mg::http::ParseResult;
using mg::http::ParseStatus;
using mg::http::RequestHead;

void check(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::string_view view, std::string_view input) {
  return view.empty() || (view.data() >= input.data() && view.data() + view.size() <= input.data() + input.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  mg::http::Limits limits;
  limits.max_request_line = 512;  // small limits so the fuzzer reaches them
  limits.max_header_bytes = 2048;
  limits.max_headers = 16;

  RequestHead head;
  ParseResult r = mg::http::parse_request_head(in, limits, head);
  if (r.status == ParseStatus::kError) {
    check(r.error_status >= 400 && r.error_status <= 505);
    check(!r.error.empty());
    return 0;
  }
  if (r.status == ParseStatus::kIncomplete) return 0;

  check(head.head_length >= 4 && head.head_length <= in.size());
  check(in.substr(head.head_length - 4, 4) == "\r\n\r\n");
  check(head.headers.size() <= limits.max_headers);
  check(head.head_length <= limits.max_header_bytes + limits.max_request_line + 8);
  const std::string_view head_bytes = in.substr(0, head.head_length);
  check(inside(head.method, head_bytes) && !head.method.empty());
  // The target views the input, except the origin-form of an absolute-form target with an empty path
  // ("/" or "/?query"), which the head builds. Either way it is origin-form, "*" or CONNECT's authority.
  check(!head.target.empty());
  check(inside(head.target, head_bytes) || head.target == "/" ||
        head.target.data() == head.target_storage.data());
  check(head.target.front() == '/' || head.target == "*" || head.method == "CONNECT");
  check(inside(head.host, head_bytes));
  check(inside(head.connection, head_bytes));
  for (const auto& h : head.headers) {
    check(inside(h.name, head_bytes) && inside(h.value, head_bytes) && !h.name.empty());
    for (char c : h.value) check(c != '\r' && c != '\n' && c != '\0');
  }
  check(head.minor_version == 0 || head.minor_version == 1);
  // Framing is unambiguous: never both a length and chunked.
  const bool has_te = !head.find("transfer-encoding").empty();
  const bool has_cl = !head.find("content-length").empty();
  check(!(has_te && has_cl));
  if (head.framing == mg::http::BodyFraming::kChunked) check(has_te && head.minor_version == 1);
  if (head.framing == mg::http::BodyFraming::kContentLength) check(has_cl && head.content_length > 0);
  check(head.framing != mg::http::BodyFraming::kUntilClose);

  // Only the head decides: the same head followed by other bytes, or alone, parses the same way.
  std::string alone(head_bytes);
  RequestHead again;
  ParseResult r2 = mg::http::parse_request_head(alone, limits, again);
  check(r2.status == ParseStatus::kComplete);
  check(again.head_length == head.head_length && again.headers.size() == head.headers.size());
  check(again.framing == head.framing && again.content_length == head.content_length);
  check(again.method == head.method && again.target == head.target && again.host == head.host);
  // Any strict prefix is incomplete (an early "complete" would mean a second reading of the stream).
  for (size_t cut : {head.head_length - 1, head.head_length / 2}) {
    RequestHead partial;
    check(mg::http::parse_request_head(alone.substr(0, cut), limits, partial).status != ParseStatus::kComplete);
  }
  return 0;
}
