#pragma once
// The HTTP/2 framing of one client connection, without I/O: nghttp2's server session behind a small
// interface. Bytes from the client go in (receive), frames to write come out (produce); in between, the
// codec keeps one Http2Stream per request with the request as received (pseudo-headers checked, cookie
// crumbs joined, oversized header lists marked for a 431), its body as it arrives (bounded by the
// stream's flow-control window, which opens again only as the session relays the bytes: consume), and
// the response bytes on their way out (taken by nghttp2 as the client's windows allow, so a slow client
// holds the producer back). It sits in http/ because two servers use it: the gateway's downstream
// session (proxy/http2_session.cpp) does the I/O and the requests, the echo's h2c port
// (echo/h2c_session.cpp) answers every stream itself; the fuzz
// target (tests/fuzz/http2_session_fuzz.cpp) drives this file alone.
//
// What nghttp2 checks itself (its HTTP messaging rules): pseudo-header presence, order and
// duplicates, field names and values, connection-specific fields and TE other than "trailers" (stream
// error PROTOCOL_ERROR), content-length against the DATA received, the frame grammar, flow control,
// and the flood limits (SETTINGS, PING, RST_STREAM rate, CONTINUATION count).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct nghttp2_session;

namespace mg::http {

struct Http2Settings {
  uint32_t max_concurrent_streams = 100;
  size_t max_header_bytes = 64 * 1024;  // a request's header list, counted as HPACK does (+32 per field)
  size_t max_headers = 100;
  uint32_t stream_window = 65535;        // request body bytes a stream may have in flight to us
  uint32_t connection_window = 1 << 20;  // the same, for all streams of the connection
};

struct Http2Field {
  std::string name;
  std::string value;
};

// One request stream, shared by the codec (until nghttp2 closes it) and the session's stream task.
struct Http2Stream {
  int32_t id = 0;
  // The request head.
  std::string method, path, scheme, authority, protocol, host;
  std::vector<Http2Field> fields;  // regular fields; the cookie crumbs joined into one "cookie"
  size_t header_bytes = 0;
  size_t header_count = 0;
  int cookie_field = -1;           // index of the joined cookie in `fields`
  int reject_status = 0;           // answered by the gateway without forwarding (431, 400)
  std::string_view reject_reason;
  bool expect_continue = false;
  bool head_complete = false;      // handed to the listener (on_request)
  // The request body: bytes received and not yet taken by the session.
  std::string body;
  uint64_t body_received = 0;
  bool body_done = false;  // END_STREAM received
  std::vector<Http2Field> request_trailers;  // a trailer HEADERS frame's fields
  // The response: bytes handed to nghttp2 as the windows allow.
  bool response_submitted = false;
  std::string out;
  bool out_eof = false;   // no more bytes after `out`
  std::vector<Http2Field> trailers;  // sent after the last DATA (a chunked response's trailer fields)
  bool end_sent = false;  // END_STREAM went out
  bool closed = false;    // nghttp2 closed the stream (done, or reset by either side)
  uint32_t error_code = 0;
  void* owner = nullptr;  // the session's task for this stream
};

class Http2Codec {
 public:
  class Listener {
   public:
    // A request head is complete (`stream.reject_status` set when it must be answered locally).
    virtual void on_request(const std::shared_ptr<Http2Stream>& stream) = 0;
    // Body bytes or END_STREAM arrived, response bytes were taken, or the stream closed.
    virtual void on_stream_change(Http2Stream& stream) = 0;

   protected:
    ~Listener() = default;
  };

  Http2Codec(Listener& listener, const Http2Settings& settings);
  ~Http2Codec();
  Http2Codec(const Http2Codec&) = delete;
  Http2Codec& operator=(const Http2Codec&) = delete;

  // Feeds bytes from the client (the connection preface first). False on a connection error: what
  // `produce` still gives (a GOAWAY) goes out, then the connection closes.
  bool receive(std::string_view bytes);
  // Appends frames to send to `out`, up to about `limit` bytes. False on a fatal error.
  bool produce(std::string& out, size_t limit);
  bool wants_read() const;
  bool wants_write() const;

  // `n` bytes of the stream's body were relayed: the client may send as much again.
  void consume(Http2Stream& stream, size_t n);
  // HEADERS (`fields` start with ":status"); the body is `stream.out` as it fills, until `out_eof`.
  bool submit_response(Http2Stream& stream, std::span<const Http2Field> fields, bool body_follows);
  // A 1xx before the final answer (100 Continue).
  void submit_informational(Http2Stream& stream, int status);
  // Bytes were added to `stream.out`, or `out_eof` was set.
  void resume(Http2Stream& stream);
  void reset(Http2Stream& stream, uint32_t error_code);
  // GOAWAY naming the last stream this connection processed; streams below it run to their end.
  void goaway(uint32_t error_code);
  bool goaway_sent() const { return goaway_; }
  // Marks every open stream closed and tells the listener (the connection is going away).
  void abandon_all();
  // Why receive() failed (nghttp2's words).
  std::string_view error() const { return error_; }
  size_t open_streams() const { return streams_.size(); }
  // Open streams whose request head is still incomplete (HEADERS without END_HEADERS yet).
  size_t incomplete_heads() const { return streams_.size() - complete_heads_; }
  // With no stream open and nothing queued: the pages of nghttp2's outbound frame buffer (16 KiB, kept
  // for the session's life, always written before it is read) go back to the kernel, so that an idle
  // connection holds its session state only. The next frame touches them again.
  void release_idle_memory();
  // That buffer (for tests of the above); empty when nghttp2 allocated none at start.
  std::span<const std::byte> outbound_frame_buffer() const { return {frame_buffer_, frame_buffer_size_}; }

  // nghttp2's allocations, through us: the one allocation of at least 16 KiB it makes while the session is
  // set up is the outbound frame buffer.
  void* allocate(size_t size);
  void* reallocate(void* p, size_t size);
  void deallocate(void* p);

  // nghttp2 callbacks (public so that the C callbacks can reach them).
  int begin_headers_frame(int32_t id);
  int begin_headers(int32_t id, bool request);
  int header(int32_t id, std::string_view name, std::string_view value);
  int trailer(int32_t id, std::string_view name, std::string_view value);
  int frame_received(int32_t id, uint8_t type, uint8_t flags, bool request_headers);
  int data_chunk(int32_t id, std::string_view data);
  int stream_closed(int32_t id, uint32_t error_code);
  int frame_sent(int32_t id, uint8_t type, uint8_t flags);
  long read_body(int32_t id, uint8_t* buf, size_t length, uint32_t* data_flags);

 private:
  Http2Stream* find(int32_t id);

  Listener& listener_;
  Http2Settings settings_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, std::shared_ptr<Http2Stream>> streams_;
  bool goaway_ = false;
  std::string_view error_;
  static constexpr size_t kRecentIds = 256;
  // The last streams the client opened, oldest first: kRecentIds to twice that once trimmed. A vector
  // trimmed by halves, not a deque, whose constructor allocates a 512-byte block on every connection.
  std::vector<int32_t> recent_ids_;
  bool recent_trimmed_ = false;
  int32_t highest_id_ = 0;
  size_t complete_heads_ = 0;  // open streams whose head was complete
  bool constructing_ = true;
  std::byte* frame_buffer_ = nullptr;
  size_t frame_buffer_size_ = 0;
  bool frame_buffer_released_ = false;
};

}  // namespace mg::http
