#pragma once
// The HTTP/1.1 half of an upstream Exchange (exchange.h): the backend connection's bytes as messages,
// without I/O (the Exchange reads into the connection's buffer when the wire needs more). It parses the
// response head (1xx dropped) and hands the body out decoded from its framing (a length, chunks with
// their trailer fields, or up to the close), one piece at a time as a view into the connection's buffer.
// A piece counts as taken at the next call: the caller writes it on first, so nothing is read from the
// backend ahead of the client (back-pressure), and no byte is copied.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <asio/buffer.hpp>

#include "http/chunked.h"
#include "http/message.h"
#include "http/serializer.h"
#include "upstream/upstream_connection.h"

namespace mg::upstream {

enum class WireRead : uint8_t {
  kOk,         // parse_head: the final head; next_piece: a piece
  kDone,       // next_piece: the body ended (trailers() has its trailer fields)
  kMalformed,  // the head or the framing is broken; the connection is no use any more
  kNeedMore,   // nothing more without a read
};

class Http1Wire {
 public:
  // A new connection (or none): the state of the last message goes (the request head stays, for a retry).
  void attach(UpstreamConnection* connection);

  // ---- the request ----
  // Serialises the request head (hop-by-hop fields out, forwarding fields in, re-framed) and keeps it for
  // every try; it goes out with the first body piece.
  void set_request(const http::OutgoingRequest& request, const http::ForwardingInfo& info,
                   http::BodyFraming framing, uint64_t length);
  // The bytes for the next body piece as the head's framing wants them, the head first when it has not
  // gone yet: a chunk per piece, and with `last` the last chunk and `trailers`. Views into the wire and
  // the arguments, valid until the next call; the caller writes them all.
  std::span<const asio::const_buffer> encode_body(std::string_view piece, bool last,
                                                  std::span<const http::Header> trailers);
  // A retry or a replay: the kept head again, and the whole (decoded) `body` as its framing wants it.
  std::span<const asio::const_buffer> encode_again(std::string_view body);
  const std::string& request_head() const { return request_head_; }

  // ---- the response ----

  // The final response head into connection().response_head. A 101 is final when the request asked for
  // an upgrade, else malformed. The head's views stay valid until the first next_piece.
  WireRead parse_head(std::string_view method, const http::Limits& limits, bool upgrade_requested);
  // The next decoded piece of the body into `piece` (kOk), valid until the next call.
  WireRead next_piece(std::string_view& piece);
  // The connection ended cleanly (EOF) while next_piece wanted more: the end of a close-delimited body
  // (kDone), else a body cut short (kNeedMore: the caller's read failed).
  WireRead end_of_input();
  // The chunked body's trailer fields, after read_body said kDone: connection-specific fields and Host
  // left out (RFC 9110 6.5.1). Views into the wire, valid until the next response.
  std::span<const http::Header> trailers() const { return trailers_; }

  // Bytes behind the last piece are read already: the next read_body needs no wait.
  bool buffered() const { return connection_ && connection_->buffer.size() > taken_; }
  // The whole response was read and nothing else waits in the buffer: the connection may serve another.
  bool at_message_end() const { return body_done_ && connection_->buffer.empty(); }

 private:
  void keep_trailers();

  UpstreamConnection* connection_ = nullptr;
  std::string request_head_;
  http::BodyFraming request_framing_ = http::BodyFraming::kNone;
  bool head_sent_ = false;
  std::array<char, 24> size_line_{};
  std::string last_chunk_;  // "0\r\n", the trailer lines, "\r\n"
  std::array<asio::const_buffer, 5> out_;
  size_t taken_ = 0;  // bytes at the buffer's front handed out (the head, then the last piece)
  uint64_t remaining_ = 0;  // of a Content-Length body
  bool body_done_ = false;
  http::ChunkedDecoder chunked_;
  std::string connection_field_;  // the head's Connection value, kept for the trailers (the head's views go)
  std::string trailer_lines_;     // "name:value\n" as the decoder keeps them
  std::vector<http::Header> trailers_;
};

}  // namespace mg::upstream
