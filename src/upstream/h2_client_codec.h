#pragma once
// The HTTP/2 framing of one connection to a backend, without I/O: nghttp2's client session behind a small
// interface, the client-side twin of http/http2_codec.h. Bytes from the backend go in (receive), frames
// to write come out (produce); in between, one H2ClientStream per request holds the request body on its
// way out (taken by nghttp2 as the backend's windows allow) and the response as it arrives: head,
// body (bounded by our stream window, which opens again only as the caller relays the bytes: consume,
// so a slow client holds the backend back) and trailers. Streams beyond the backend's
// SETTINGS_MAX_CONCURRENT_STREAMS wait inside nghttp2 until a slot frees. h2c_link.h does the I/O,
// h2_stream_wire.cpp the requests; tests/unit/upstream_h2_client_codec_test.cpp drives this file against
// http::Http2Codec.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/http2_codec.h"

struct nghttp2_session;

namespace mg::upstream {

struct H2ClientStream {
  int32_t id = 0;
  // The request body: bytes handed to nghttp2 as the windows allow.
  std::string out;
  bool out_eof = false;
  // The response.
  int status = 0;                         // of the final head (1xx heads are dropped)
  std::vector<http::Http2Field> fields;   // regular fields of the final head
  bool head_done = false;
  std::string body;                       // received, not yet taken by the caller
  bool body_done = false;                 // END_STREAM received
  std::vector<http::Http2Field> trailers;
  bool closed = false;
  uint32_t error_code = 0;                // RST_STREAM's, or REFUSED_STREAM when a GOAWAY excluded it
  void* owner = nullptr;                  // the task waiting on this stream

  // Closed before the backend sent anything for it: a GOAWAY below its id or REFUSED_STREAM say it was
  // never processed (RFC 9113 8.7), so it may be sent again on another connection.
  bool refused() const;
};

class H2ClientCodec {
 public:
  class Listener {
   public:
    // Head, body bytes or trailers arrived, request bytes were taken, or the stream closed.
    virtual void on_stream_change(H2ClientStream& stream) = 0;

   protected:
    ~Listener() = default;
  };

  // `stream_window`: response bytes one stream may have in flight to us; the connection's window is
  // 16 times that.
  H2ClientCodec(Listener& listener, uint32_t stream_window);
  ~H2ClientCodec();
  H2ClientCodec(const H2ClientCodec&) = delete;
  H2ClientCodec& operator=(const H2ClientCodec&) = delete;

  // Bytes from the backend. False on a connection error (what produce still gives goes out, then close).
  bool receive(std::string_view bytes);
  // Appends frames to send to `out` (the preface first), up to about `limit` bytes. False on a fatal error.
  bool produce(std::string& out, size_t limit);
  bool wants_read() const;
  bool wants_write() const;

  // HEADERS (pseudo-headers first); the body is `stream.out` as it fills, until `out_eof`. False when the
  // connection takes no new streams (GOAWAY either way, or stream ids used up).
  bool submit(const std::shared_ptr<H2ClientStream>& stream, std::span<const http::Http2Field> fields,
              bool body_follows);
  // Bytes were added to `stream.out`, or `out_eof` was set.
  void resume(H2ClientStream& stream);
  // `n` bytes of the response body were relayed: the backend may send as much again.
  void consume(H2ClientStream& stream, size_t n);
  void reset(H2ClientStream& stream, uint32_t error_code);
  // Marks every open stream closed (CANCEL) and tells the listener: the connection is gone.
  void abandon_all();

  // No new stream may start here: a GOAWAY came or went, or the session is done.
  bool draining() const;
  size_t open_streams() const { return streams_.size(); }
  // As many streams open as the backend's SETTINGS_MAX_CONCURRENT_STREAMS allows.
  bool full() const;
  std::string_view error() const { return error_; }

  // nghttp2 callbacks (public so that the C callbacks can reach them).
  int begin_headers(int32_t id);
  int header(int32_t id, std::string_view name, std::string_view value);
  int frame_received(int32_t id, uint8_t type, uint8_t flags);
  int data_chunk(int32_t id, std::string_view data);
  int stream_closed(int32_t id, uint32_t error_code);
  long read_body(int32_t id, uint8_t* buf, size_t length, uint32_t* data_flags);

 private:
  H2ClientStream* find(int32_t id);

  Listener& listener_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, std::shared_ptr<H2ClientStream>> streams_;
  std::string_view error_;
  bool failed_ = false;
};

}  // namespace mg::upstream
