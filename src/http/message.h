#pragma once
// HTTP/1.x message heads as views into the connection's read buffer (valid until the buffer is
// compacted), plus the body framing derived from them.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mg::http {

struct Header {
  std::string_view name;
  std::string_view value;
};

// First value of the named field (case-insensitive), or empty.
std::string_view find_header(std::span<const Header> headers, std::string_view name);

// How the body after a head is delimited (RFC 9112 section 6).
enum class BodyFraming : uint8_t {
  kNone,           // no body at all
  kContentLength,  // exactly content_length bytes
  kChunked,        // chunked transfer coding
  kUntilClose,     // response only: body ends when the upstream closes
};

struct Limits {
  size_t max_request_line = 8 * 1024;   // 414 beyond
  size_t max_header_bytes = 64 * 1024;  // 431 beyond (the whole head)
  size_t max_headers = 100;             // 431 beyond
};

struct RequestHead {
  std::string_view method;
  // Origin-form ("/path?query"), "*" or CONNECT's authority: an absolute-form target arrives here as its
  // origin-form (RFC 9112 3.2.2), the form a backend must be sent. Views the parsed input, or
  // target_storage for "http://host?query" (whose "/" must be added); a RequestHead is parsed in place and
  // never copied.
  std::string_view target;
  int minor_version = 1;  // HTTP/1.<minor>
  std::vector<Header> headers;
  size_t head_length = 0;  // bytes of request line + headers + final CRLF

  // Derived while parsing.
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
  std::string_view host;  // Host header value (or authority of an absolute-form target)
  bool keep_alive = true;
  bool expect_continue = false;
  bool has_upgrade = false;
  std::string_view connection;  // raw Connection value, to find fields it names
  std::string target_storage;

  void clear() {
    method = target = host = connection = {};
    target_storage.clear();
    headers.clear();
    minor_version = 1;
    head_length = 0;
    framing = BodyFraming::kNone;
    content_length = 0;
    keep_alive = true;
    expect_continue = has_upgrade = false;
  }
  // First value of the named header (case-insensitive), or empty.
  std::string_view find(std::string_view name) const;
};

struct ResponseHead {
  int status = 0;
  std::string_view reason;
  int minor_version = 1;
  std::vector<Header> headers;
  size_t head_length = 0;

  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
  bool keep_alive = true;
  std::string_view connection;

  void clear() {
    status = 0;
    reason = connection = {};
    minor_version = 1;
    headers.clear();
    head_length = 0;
    framing = BodyFraming::kNone;
    content_length = 0;
    keep_alive = true;
  }
  std::string_view find(std::string_view name) const;
};

}  // namespace mg::http
