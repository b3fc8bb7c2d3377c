#pragma once
// The echo document of echo-basic.md section 5, encoded exactly as Go's encoding/json MarshalIndent with a
// one-space indent would: same field order, sorted canonical header names, Go's HTML-safe string escaping,
// no trailing newline. Conformance clients compare these bytes' meaning, humans diff them: both need Go's
// exact shape, which general-purpose JSON libraries do not produce.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace mg::echo {

// Process-wide values copied into every document (environment of echo-basic.md section 2).
struct EchoEnv {
  std::string http_port = "3000";
  std::string namespace_name;
  std::string ingress;
  std::string service;
  std::string pod;
};

struct EchoRequest {
  std::string_view target;  // raw request-target, reported as "path"
  std::string_view host;
  std::string_view method;
  int major_version = 1;  // 2: "HTTP/2.0" (the h2c port)
  int minor_version = 1;
  std::span<const http::Header> headers;
  bool chunked = false;  // Go drops the Trailer header of chunked requests
};

// Appends s as a JSON string literal (with quotes) using Go's escaping: \u003c \u003e \u0026, \u2028,
// \u2029, short escapes for \b \f \n \r \t, \u00XX for other controls, \ufffd per invalid UTF-8 byte.
void append_json_string(std::string& out, std::string_view s);

// Go's textproto.CanonicalMIMEHeaderKey for token names: upper-case first letter and letters after '-'.
std::string canonical_header_key(std::string_view name);
// Byte i of the canonical form of name, without building it.
inline char canonical_header_char(std::string_view name, size_t i) {
  char c = name[i];
  bool upper = i == 0 || name[i - 1] == '-';
  if (upper && c >= 'a' && c <= 'z') return static_cast<char>(c - 32);
  if (!upper && c >= 'A' && c <= 'Z') return static_cast<char>(c + 32);
  return c;
}

// The compact error body of echo-basic.md section 6.2: {"message":"..."}.
void append_error_json(std::string& out, std::string_view message);

// Builds echo documents; keeps its scratch space between calls so a worker does not allocate per request.
class EchoJsonWriter {
 public:
  void append(std::string& out, const EchoRequest& request, const EchoEnv& env);

 private:
  std::vector<uint32_t> order_;  // indices of reported headers, sorted by canonical name
  std::string name_;             // canonical name being written
};

}  // namespace mg::echo
