#include "http/chunked.h"

#include "http/syntax.h"

namespace mg::http {

bool valid_chunk_extensions(std::string_view ext) {
  size_t i = 0;
  auto skip_bws = [&] {
    while (i < ext.size() && (ext[i] == ' ' || ext[i] == '\t')) ++i;
  };
  auto token = [&] {
    size_t start = i;
    while (i < ext.size() && is_tchar(ext[i])) ++i;
    return i > start;
  };
  while (i < ext.size()) {
    skip_bws();
    if (i >= ext.size() || ext[i] != ';') return false;
    ++i;
    skip_bws();
    if (!token()) return false;
    skip_bws();
    if (i < ext.size() && ext[i] == '=') {
      ++i;
      skip_bws();
      if (i < ext.size() && ext[i] == '"') {  // quoted-string with quoted-pairs
        ++i;
        bool closed = false;
        while (i < ext.size()) {
          if (ext[i] == '\\') {
            i += 2;
            continue;
          }
          if (ext[i++] == '"') {
            closed = true;
            break;
          }
        }
        if (!closed) return false;
      } else if (!token()) {
        return false;
      }
    }
    // Only BWS may separate this extension from the next ';'.
    size_t before = i;
    skip_bws();
    if (i < ext.size() && ext[i] != ';') return false;
    if (i == ext.size() && before != i) return false;  // trailing whitespace after the last extension
  }
  return true;
}

ChunkedDecoder::Status ChunkedDecoder::fail(std::string_view why) {
  state_ = State::kError;
  error_ = why;
  return Status::kError;
}

ChunkedDecoder::Status ChunkedDecoder::next(std::string_view in, size_t& consumed, std::string_view& data) {
  size_t i = 0;
  auto line_byte = [&]() { return ++line_bytes_ <= kMaxSizeLine; };
  while (i < in.size()) {
    char c = in[i];
    switch (state_) {
      case State::kSize: {
        int v = hex_digit_value(c);
        if (v >= 0) {
          // 15 hex digits keep the size below 2^60: no overflow, and far beyond any real body.
          if (++size_digits_ > 15) return fail("chunk size too large");
          remaining_ = remaining_ * 16 + static_cast<uint64_t>(v);
          ++i;
          if (!line_byte()) return fail("chunk size line too long");
          break;
        }
        if (size_digits_ == 0) return fail("missing chunk size");
        if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (c == ';' || c == ' ' || c == '\t') {
          state_ = State::kExtension;
          extension_.clear();
          extension_ += c;
        } else {
          return fail("invalid character after chunk size");
        }
        ++i;
        break;
      }
      case State::kExtension:
        if (c == '\r') {
          if (!valid_chunk_extensions(extension_)) return fail("malformed chunk extension");
          state_ = State::kSizeLf;
        } else if (!is_field_value_char(c)) {
          return fail("invalid character in chunk extension");
        } else {
          extension_ += c;
        }
        ++i;
        if (!line_byte()) return fail("chunk size line too long");
        break;
      case State::kSizeLf:
        if (c != '\n') return fail("bare CR after chunk size");
        ++i;
        size_digits_ = 0;
        line_bytes_ = 0;
        if (remaining_ == 0) {
          state_ = State::kTrailerLineStart;
        } else {
          state_ = State::kData;
        }
        break;
      case State::kData: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size() - i));
        data = in.substr(i, n);
        remaining_ -= n;
        i += n;
        if (remaining_ == 0) state_ = State::kDataCr;
        consumed = i;
        return Status::kData;
      }
      case State::kDataCr:
        if (c != '\r') return fail("missing CRLF after chunk data");
        state_ = State::kDataLf;
        ++i;
        break;
      case State::kDataLf:
        if (c != '\n') return fail("missing CRLF after chunk data");
        state_ = State::kSize;
        ++i;
        break;
      case State::kTrailerLineStart:
        if (c == '\r') {
          state_ = State::kFinalLf;
        } else if (is_tchar(c)) {
          state_ = State::kTrailerName;
          if (trailers_) *trailers_ += c;
        } else {
          return fail("invalid trailer field");
        }
        ++i;
        if (++trailer_bytes_ > kMaxTrailerBytes) return fail("trailer section too large");
        break;
      case State::kTrailerName:
        if (c == ':') {
          state_ = State::kTrailerLine;
        } else if (!is_tchar(c)) {
          return fail("invalid trailer field name");
        }
        if (trailers_) *trailers_ += c;
        ++i;
        if (++trailer_bytes_ > kMaxTrailerBytes) return fail("trailer section too large");
        break;
      case State::kTrailerLine:
        if (c == '\r') {
          state_ = State::kTrailerLf;
        } else if (!is_field_value_char(c)) {
          return fail("invalid character in trailer field");
        } else if (trailers_) {
          *trailers_ += c;
        }
        ++i;
        if (++trailer_bytes_ > kMaxTrailerBytes) return fail("trailer section too large");
        break;
      case State::kTrailerLf:
        if (c != '\n') return fail("bare CR in trailer section");
        if (trailers_) *trailers_ += '\n';
        state_ = State::kTrailerLineStart;
        ++i;
        break;
      case State::kFinalLf:
        if (c != '\n') return fail("bare CR at end of chunked body");
        ++i;
        state_ = State::kDone;
        consumed = i;
        return Status::kDone;
      case State::kDone:
        consumed = i;
        return Status::kDone;
      case State::kError:
        return Status::kError;
    }
  }
  consumed = i;
  if (state_ == State::kDone) return Status::kDone;
  return Status::kNeedMore;
}

}  // namespace mg::http
