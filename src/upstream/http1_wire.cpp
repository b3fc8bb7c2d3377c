#include "upstream/http1_wire.h"

#include <algorithm>

#include <fmt/format.h>

#include "http/parser.h"
#include "http/serializer.h"
#include "http/syntax.h"

namespace mg::upstream {
void Http1Wire::attach(UpstreamConnection* connection) {
  connection_ = connection;
  taken_ = 0;
  body_done_ = false;
  head_sent_ = false;
}

void Http1Wire::set_request(const http::OutgoingRequest& request, const http::ForwardingInfo& info,
                            http::BodyFraming framing, uint64_t length) {
  request_head_.clear();
  http::append_upstream_request_head(request_head_, request, info, framing, length);
  request_framing_ = framing;
  head_sent_ = false;
}

std::span<const asio::const_buffer> Http1Wire::encode_body(std::string_view piece, bool last,
                                                           std::span<const http::Header> trailers) {
  size_t n = 0;
  if (!head_sent_) {
    out_[n++] = asio::buffer(request_head_);
    head_sent_ = true;
  }
  if (request_framing_ != http::BodyFraming::kChunked) {
    if (!piece.empty()) out_[n++] = asio::buffer(piece);
    return {out_.data(), n};
  }
  if (!piece.empty()) {
    const auto end = fmt::format_to_n(size_line_.data(), size_line_.size(), "{:x}\r\n", piece.size()).out;
    out_[n++] = asio::buffer(size_line_.data(), static_cast<size_t>(end - size_line_.data()));
    out_[n++] = asio::buffer(piece);
    out_[n++] = asio::buffer(std::string_view("\r\n"));
  }
  if (last) {
    // The client's trailer fields, when it sent any, as the chunked body's trailer section.
    last_chunk_.assign("0\r\n");
    for (const auto& f : trailers)
      if (!http::is_connection_specific(f.name, {}) && !http::iequals(f.name, "host"))
        last_chunk_.append(f.name).append(": ").append(f.value).append("\r\n");
    last_chunk_.append("\r\n");
    out_[n++] = asio::buffer(last_chunk_);
  }
  return {out_.data(), n};
}

std::span<const asio::const_buffer> Http1Wire::encode_again(std::string_view body) {
  head_sent_ = false;
  return encode_body(body, true, {});
}

WireRead Http1Wire::parse_head(std::string_view method, const http::Limits& limits, bool upgrade_requested) {
  ByteBuffer& buffer = connection_->buffer;
  http::ResponseHead& head = connection_->response_head;
  buffer.consume(taken_);  // what a caller left of an answer it gave up on is no part of this one
  taken_ = 0;
  body_done_ = false;
  for (;;) {
    const http::ParseResult r = http::parse_response_head(buffer.readable(), limits, method, head);
    if (r.status == http::ParseStatus::kError ||
        (r.status == http::ParseStatus::kComplete && head.status == 101 && !upgrade_requested))
      return WireRead::kMalformed;
    if (r.status != http::ParseStatus::kComplete) return WireRead::kNeedMore;
    if (head.status >= 200 || head.status == 101) break;
    buffer.consume(head.head_length);  // 100 Continue, 103 Early Hints: not relayed
  }
  // The body starts behind the head, which stays in the buffer for the caller's views until then.
  taken_ = head.head_length;
  remaining_ = head.framing == http::BodyFraming::kContentLength ? head.content_length : 0;
  chunked_.reset();
  trailer_lines_.clear();
  trailers_.clear();
  if (head.framing == http::BodyFraming::kChunked) {
    chunked_.keep_trailers(&trailer_lines_);
    connection_field_.assign(head.connection);
  }
  return WireRead::kOk;
}

WireRead Http1Wire::next_piece(std::string_view& piece) {
  ByteBuffer& buffer = connection_->buffer;
  const http::ResponseHead& head = connection_->response_head;
  buffer.consume(taken_);  // the last piece (or the head): the caller is done with it
  taken_ = 0;
  if (body_done_) return WireRead::kDone;
  switch (head.framing) {
    case http::BodyFraming::kNone:
      body_done_ = true;
      return WireRead::kDone;
    case http::BodyFraming::kContentLength:
      if (remaining_ == 0) {
        body_done_ = true;
        return WireRead::kDone;
      }
      if (buffer.empty()) return WireRead::kNeedMore;
      taken_ = static_cast<size_t>(std::min<uint64_t>(remaining_, buffer.size()));
      remaining_ -= taken_;
      piece = buffer.readable().substr(0, taken_);
      return WireRead::kOk;
    case http::BodyFraming::kChunked:
      while (!buffer.empty()) {
        size_t consumed = 0;
        std::string_view data;
        const auto status = chunked_.next(buffer.readable(), consumed, data);
        if (status == http::ChunkedDecoder::Status::kError) return WireRead::kMalformed;
        if (status == http::ChunkedDecoder::Status::kData) {
          taken_ = consumed;  // the data is a view into these bytes: they stay until the next call
          piece = data;
          return WireRead::kOk;
        }
        buffer.consume(consumed);
        if (status == http::ChunkedDecoder::Status::kDone) {
          keep_trailers();
          body_done_ = true;
          return WireRead::kDone;
        }
        break;  // kNeedMore: all of it was taken
      }
      return WireRead::kNeedMore;
    case http::BodyFraming::kUntilClose:
      if (buffer.empty()) return WireRead::kNeedMore;
      taken_ = buffer.size();
      piece = buffer.readable();
      return WireRead::kOk;
  }
  return WireRead::kMalformed;
}

WireRead Http1Wire::end_of_input() {
  if (connection_->response_head.framing != http::BodyFraming::kUntilClose) return WireRead::kNeedMore;
  body_done_ = true;
  return WireRead::kDone;
}

// The decoder keeps the trailer section as "name:value\n" lines (values as received, OWS included).
void Http1Wire::keep_trailers() {
  std::string_view lines = trailer_lines_;
  while (!lines.empty()) {
    const size_t end = lines.find('\n');
    const std::string_view line = lines.substr(0, end);
    lines.remove_prefix(end == std::string_view::npos ? lines.size() : end + 1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon);
    // Fields that describe the message or the connection have no place in trailers (RFC 9110 6.5.1).
    if (http::is_connection_specific(name, connection_field_) || http::iequals(name, "host")) continue;
    trailers_.push_back({name, http::trim_ows(line.substr(colon + 1))});
  }
}

}  // namespace mg::upstream
