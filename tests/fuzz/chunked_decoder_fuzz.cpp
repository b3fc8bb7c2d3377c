// libFuzzer target for ChunkedDecoder: never crash; data views lie inside the input; the outcome (status,
// decoded body, bytes consumed) is the same whether the input arrives whole, byte by byte, or split at an
// input-chosen point; a completed body re-encoded and decoded again gives the same body.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/chunked.h"

namespace {

using mg::http::ChunkedDecoder;

void check(bool ok) {
  if (!ok) std::abort();
}

struct Outcome {
  ChunkedDecoder::Status status = ChunkedDecoder::Status::kNeedMore;
  std::string body;
  size_t consumed = 0;
};

// Feeds `in` in pieces of `step` bytes (0: whole), keeping unconsumed bytes in front of the next piece.
Outcome decode(std::string_view in, size_t step) {
  ChunkedDecoder decoder;
  Outcome out;
  std::string pending;
  size_t fed = 0;
  for (;;) {
    size_t n = step == 0 ? in.size() - fed : std::min(step, in.size() - fed);
    pending.append(in.substr(fed, n));
    fed += n;
    for (;;) {
      size_t consumed = 0;
      std::string_view data;
      out.status = decoder.next(pending, consumed, data);
      check(consumed <= pending.size());
      if (out.status == ChunkedDecoder::Status::kError) {
        check(!decoder.error().empty());
        return out;
      }
      if (out.status == ChunkedDecoder::Status::kData) {
        check(!data.empty() && consumed > 0);
        check(data.data() >= pending.data() && data.data() + data.size() <= pending.data() + consumed);
        out.body.append(data);
      }
      if (out.status == ChunkedDecoder::Status::kNeedMore) check(consumed == pending.size());
      pending.erase(0, consumed);
      out.consumed += consumed;
      if (out.status == ChunkedDecoder::Status::kDone) {
        check(decoder.done());
        return out;
      }
      if (out.status == ChunkedDecoder::Status::kNeedMore || pending.empty()) break;
    }
    if (fed == in.size()) return out;
  }
}

bool same(const Outcome& a, const Outcome& b) {
  if (a.status != b.status) return false;
  if (a.status == ChunkedDecoder::Status::kError) return true;  // where it failed may differ by piece size
  return a.body == b.body && a.consumed == b.consumed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Outcome whole = decode(in, 0);
  check(whole.consumed <= in.size());
  check(whole.body.size() <= in.size());
  if (whole.status == ChunkedDecoder::Status::kData) whole.status = ChunkedDecoder::Status::kNeedMore;

  Outcome bytewise = decode(in, 1);
  if (bytewise.status == ChunkedDecoder::Status::kData) bytewise.status = ChunkedDecoder::Status::kNeedMore;
  check(same(whole, bytewise));
  if (size > 0) {
    Outcome split = decode(in, 1 + data[0] % 13);
    if (split.status == ChunkedDecoder::Status::kData) split.status = ChunkedDecoder::Status::kNeedMore;
    check(same(whole, split));
  }

  if (whole.status == ChunkedDecoder::Status::kDone) {
    // What the gateway re-encodes decodes to the same body.
    std::string encoded;
    if (!whole.body.empty()) {
      char size_hex[32];
      std::snprintf(size_hex, sizeof size_hex, "%zx\r\n", whole.body.size());
      encoded.append(size_hex).append(whole.body).append("\r\n");
    }
    encoded.append("0\r\n\r\n");
    Outcome again = decode(encoded, 0);
    check(again.status == ChunkedDecoder::Status::kDone && again.body == whole.body &&
          again.consumed == encoded.size());
  }
  return 0;
}
