#pragma once
// Incremental decoder for the chunked transfer coding (RFC 9112 section 7.1). It is fed whatever bytes
// arrived and hands back data pieces as views into them, so a body streams through without copies.
// Chunk extensions are validated and dropped; trailer fields are validated and dropped, or kept as
// validated lines for a caller that relays them (keep_trailers: an HTTP/2 client gets them as a
// trailer HEADERS frame).

#include <cstdint>
#include <string>
#include <string_view>

namespace mg::http {

class ChunkedDecoder {
 public:
  enum class Status : uint8_t { kData, kNeedMore, kDone, kError };

  // Consumes a prefix of `in` and sets `consumed` to its length. kData: `data` is a non-empty view into
  // `in` (call again with the rest). kNeedMore: all of `in` was consumed without completing anything.
  // kDone: the last chunk and trailer section were consumed. kError: `error()` says why.
  Status next(std::string_view in, size_t& consumed, std::string_view& data);

  std::string_view error() const { return error_; }
  bool done() const { return state_ == State::kDone; }
  void reset() { *this = ChunkedDecoder{}; }
  // Appends each trailer field to `out` as "name:value\n" (the value as received, OWS included), at
  // most kMaxTrailerBytes in all.
  void keep_trailers(std::string* out) { trailers_ = out; }

  static constexpr size_t kMaxSizeLine = 4096;       // chunk-size plus extensions
  static constexpr size_t kMaxTrailerBytes = 16384;  // whole trailer section

 private:
  enum class State : uint8_t { kSize, kExtension, kSizeLf, kData, kDataCr, kDataLf, kTrailerLineStart,
                               kTrailerName, kTrailerLine, kTrailerLf, kFinalLf, kDone, kError };
  Status fail(std::string_view why);

  State state_ = State::kSize;
  uint64_t remaining_ = 0;
  size_t size_digits_ = 0;
  size_t line_bytes_ = 0;
  size_t trailer_bytes_ = 0;
  std::string_view error_;
  std::string extension_;  // the current chunk's extensions, validated whole at the end of the line
  std::string* trailers_ = nullptr;
};

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )  (RFC 9112 7.1.1)
bool valid_chunk_extensions(std::string_view ext);

}  // namespace mg::http
