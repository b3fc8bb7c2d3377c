#include "proxy/body_relay.h"

#include <array>

#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include "http/chunked.h"

namespace mg::proxy {
namespace {

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 16 * 1024;

template <typename Sink, typename Buffers>
asio::awaitable<bool> write_gathered(Sink& sink, const Buffers& buffers, const RelayTimeouts& timeouts) {
  if (timeouts.sink) timeouts.sink->arm(timeouts.write);
  auto [ec, n] = co_await asio::async_write(sink, buffers, kNoThrow);
  if (timeouts.sink) timeouts.sink->disarm();
  co_return !ec;
}

template <typename Sink>
asio::awaitable<bool> write_buffers(Sink& sink, std::string_view a, std::string_view b,
                                    const RelayTimeouts& timeouts) {
  std::array<asio::const_buffer, 2> buffers{asio::buffer(a), asio::buffer(b)};
  if (timeouts.sink) timeouts.sink->arm(timeouts.write);
  auto [ec, n] = co_await asio::async_write(sink, buffers, kNoThrow);
  if (timeouts.sink) timeouts.sink->disarm();
  co_return !ec;
}

// Reads more bytes from the source into its buffer; false on EOF, error or timeout.
template <typename Source>
asio::awaitable<bool> read_more(Source& source, ByteBuffer& buffer, const RelayTimeouts& timeouts,
                                bool& eof) {
  size_t available = 0;
  char* p = buffer.prepare(kReadChunk, available);
  if (timeouts.source) timeouts.source->arm(timeouts.read);
  auto [ec, n] = co_await source.async_read_some(asio::buffer(p, available), kNoThrow);
  if (timeouts.source) timeouts.source->disarm();
  eof = ec == asio::error::eof;
  if (ec) co_return false;
  buffer.commit(n);
  co_return true;
}

void encode_piece(std::string& out, std::string_view data, http::BodyFraming out_framing) {
  if (out_framing == http::BodyFraming::kChunked) {
    fmt::format_to(std::back_inserter(out), "{:x}\r\n", data.size());
    out.append(data).append("\r\n");
  } else {
    out.append(data);
  }
}

}  // namespace

template <typename Sink>
asio::awaitable<bool> write_all(Sink& sink, std::string_view data, const RelayTimeouts& timeouts) {
  co_return co_await write_buffers(sink, data, {}, timeouts);
}

asio::awaitable<RelayResult> relay_request_body(net::ClientStream& source, ByteBuffer& source_buffer,
                                                http::BodyFraming in_framing, uint64_t in_length,
                                                upstream::Exchange& exchange, std::chrono::milliseconds write_timeout,
                                                BodyCapture* capture, const RelayTimeouts& timeouts,
                                                uint64_t max_bytes, std::string& scratch) {
  RelayResult result;
  bool eof = false;
  switch (in_framing) {
    case http::BodyFraming::kNone:
    case http::BodyFraming::kUntilClose:  // (no request is delimited by its close)
      if (!co_await exchange.send_body({}, true, {}, write_timeout)) result.status = RelayStatus::kSinkFailed;
      result.wrote = true;
      co_return result;

    case http::BodyFraming::kContentLength: {
      uint64_t remaining = in_length;
      for (;;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining, source_buffer.size()));
        const std::string_view piece = source_buffer.readable().substr(0, n);
        if (capture) capture->add(piece);
        // Zero copy: the head (if still unsent) and the body bytes go out in one gathered write.
        if (!co_await exchange.send_body(piece, n == remaining, {}, write_timeout)) {
          result.status = RelayStatus::kSinkFailed;
          co_return result;
        }
        result.wrote = true;
        source_buffer.consume(n);
        remaining -= n;
        result.bytes += n;
        if (remaining == 0) co_return result;
        if (!co_await read_more(source, source_buffer, timeouts, eof)) {
          result.status = RelayStatus::kSourceFailed;
          co_return result;
        }
      }
    }

    case http::BodyFraming::kChunked: {
      // What one read brought is decoded whole before any of it goes: a broken chunk anywhere in it
      // sends nothing (the backend never sees a body the gateway refused).
      http::ChunkedDecoder decoder;
      std::string& decoded = scratch;
      for (;;) {
        decoded.clear();
        bool finished = false;
        while (!source_buffer.empty()) {
          size_t consumed = 0;
          std::string_view data;
          const auto status = decoder.next(source_buffer.readable(), consumed, data);
          if (status == http::ChunkedDecoder::Status::kError) {
            result.status = RelayStatus::kSourceMalformed;
            co_return result;
          }
          if (status == http::ChunkedDecoder::Status::kData) {
            if (max_bytes && result.bytes + data.size() > max_bytes) {
              result.status = RelayStatus::kTooLarge;
              co_return result;
            }
            if (capture) capture->add(data);
            result.bytes += data.size();
            decoded.append(data);
          }
          source_buffer.consume(consumed);
          finished = status == http::ChunkedDecoder::Status::kDone;
          if (finished || status == http::ChunkedDecoder::Status::kNeedMore) break;
        }
        if ((!decoded.empty() || finished) && !co_await exchange.send_body(decoded, finished, {}, write_timeout)) {
          result.status = RelayStatus::kSinkFailed;
          co_return result;
        }
        result.wrote = result.wrote || !decoded.empty() || finished;
        if (finished) co_return result;
        if (!co_await read_more(source, source_buffer, timeouts, eof)) {
          result.status = RelayStatus::kSourceFailed;
          co_return result;
        }
      }
    }
  }
  co_return result;
}

template <typename Sink>
asio::awaitable<RelayResult> relay_response_body(upstream::Exchange& exchange, std::chrono::milliseconds read_timeout,
                                                 Sink& sink, http::BodyFraming out_framing, std::string& prefix,
                                                 BodyCapture* capture, const RelayTimeouts& timeouts) {
  RelayResult result;
  for (;;) {
    std::string_view piece;
    upstream::BodyRead read = exchange.take_body(piece);  // no frame, no deadline for what came with the head
    if (read == upstream::BodyRead::kWait) read = co_await exchange.read_body(piece, read_timeout);
    if (read == upstream::BodyRead::kData) {
      if (capture) capture->add(piece);
      result.bytes += piece.size();
      if (exchange.body_buffered()) {  // more is read already (chunks, the last chunk): one write for all
        encode_piece(prefix, piece, out_framing);
        continue;
      }
      // Zero copy: the head (if still unsent), the chunk's size line and the piece in one gathered write.
      char size_line[24];
      std::string_view framing_before, framing_after;
      if (out_framing == http::BodyFraming::kChunked) {
        const auto end = fmt::format_to_n(size_line, sizeof size_line, "{:x}\r\n", piece.size());
        framing_before = std::string_view(size_line, end.out);
        framing_after = "\r\n";
      }
      const std::array<asio::const_buffer, 4> buffers{asio::buffer(prefix), asio::buffer(framing_before),
                                                       asio::buffer(piece), asio::buffer(framing_after)};
      if (!co_await write_gathered(sink, buffers, timeouts)) {
        result.status = RelayStatus::kSinkFailed;
        co_return result;
      }
      result.wrote = true;
      prefix.clear();
      continue;
    }
    if (read != upstream::BodyRead::kDone) {
      result.status = read == upstream::BodyRead::kMalformed ? RelayStatus::kSourceMalformed : RelayStatus::kSourceFailed;
      co_return result;
    }
    if (out_framing == http::BodyFraming::kChunked) prefix.append("0\r\n\r\n");
    if (!prefix.empty()) {
      if (!co_await write_all(sink, prefix, timeouts)) {
        result.status = RelayStatus::kSinkFailed;
        co_return result;
      }
      result.wrote = true;
      prefix.clear();
    }
    co_return result;
  }
}

template asio::awaitable<RelayResult> relay_response_body(upstream::Exchange&, std::chrono::milliseconds,
                                                          net::ClientStream&, http::BodyFraming, std::string&,
                                                          BodyCapture*, const RelayTimeouts&);
template asio::awaitable<bool> write_all(net::ClientStream&, std::string_view, const RelayTimeouts&);

}  // namespace mg::proxy
