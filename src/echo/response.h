#pragma once
// HTTP/1.x response serialisation for the echo server, following what Go's net/http puts on the wire
// (status texts, Date, Content-Length, Connection) so that clients see the same answers as from echo-basic.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace mg::echo {

// Go's http.StatusText, or "status code N" like Go for codes it does not know.
std::string status_line_text(int code);

// False for 1xx, 204 and 304: Go sends neither a body nor a Content-Length for them.
bool body_allowed_for_status(int code);

// The IMF-fixdate of now, recomputed at most once per second per thread.
std::string_view cached_http_date();

struct ResponseHeader {
  std::string_view name;
  std::string value;
};

// echo-basic.md section 6.1: the X-Echo-Set-Header values of the request, in order, as the response
// headers they ask for (names spelt as written, repeated names folded into one "a,b" value). Pieces
// with an empty or otherwise invalid header name are dropped, as Go drops them when writing.
void parse_echo_set_headers(std::span<const http::Header> request_headers, std::vector<ResponseHeader>& out);

struct ResponseSpec {
  int status = 200;
  int minor_version = 1;  // of the request: Go answers HTTP/1.0 requests with HTTP/1.0
  bool keep_alive = true;
  bool head_request = false;  // headers only, Content-Length of the body that was not sent
  std::span<const ResponseHeader> extra_headers;
  std::string_view content_type;  // omitted when empty
  bool nosniff = false;           // X-Content-Type-Options: nosniff
  std::string_view location;      // omitted when empty
  std::string_view body;
};

void append_response(std::string& out, const ResponseSpec& spec);

}  // namespace mg::echo
