#include "http/http2_codec.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include <nghttp2/nghttp2.h>

namespace mg::http {
namespace {

Http2Codec& codec_of(void* user_data) { return *static_cast<Http2Codec*>(user_data); }

std::string_view view(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  return codec_of(user_data).begin_headers(frame->hd.stream_id, frame->headers.cat == NGHTTP2_HCAT_REQUEST);
}

int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user_data) {
  if (hd->type != NGHTTP2_HEADERS) return 0;
  return codec_of(user_data).begin_headers_frame(hd->stream_id);
}

int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen, const uint8_t* value,
              size_t valuelen, uint8_t, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  if (frame->headers.cat == NGHTTP2_HCAT_HEADERS)
    return codec_of(user_data).trailer(frame->hd.stream_id, view(name, namelen), view(value, valuelen));
  if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  return codec_of(user_data).header(frame->hd.stream_id, view(name, namelen), view(value, valuelen));
}

int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  const bool request_headers = frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST;
  return codec_of(user_data).frame_received(frame->hd.stream_id, frame->hd.type, frame->hd.flags, request_headers);
}

int on_data_chunk_recv(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                       void* user_data) {
  return codec_of(user_data).data_chunk(stream_id, view(data, len));
}

int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  return codec_of(user_data).stream_closed(stream_id, error_code);
}

int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return codec_of(user_data).frame_sent(frame->hd.stream_id, frame->hd.type, frame->hd.flags);
}

ssize_t read_callback(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* data_flags,
                      nghttp2_data_source*, void* user_data) {
  return codec_of(user_data).read_body(stream_id, buf, length, data_flags);
}

void* mem_malloc(size_t size, void* user_data) { return codec_of(user_data).allocate(size); }
void mem_free(void* p, void* user_data) { codec_of(user_data).deallocate(p); }
void* mem_calloc(size_t n, size_t size, void*) { return std::calloc(n, size); }
void* mem_realloc(void* p, size_t size, void* user_data) { return codec_of(user_data).reallocate(p, size); }

// nghttp2's outbound frame buffer is one chunk of 9 + 1 + 16384 bytes; nothing else it makes at start is as big.
constexpr size_t kFrameBufferMin = 16 * 1024;

nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  // nghttp2 copies names and values while it queues the frame (no NO_COPY flags).
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

Http2Codec::Http2Codec(Listener& listener, const Http2Settings& settings) : listener_(listener), settings_(settings) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, on_begin_frame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_frame_send);
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  // The session opens the request body windows itself, as the bytes go upstream (consume).
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_mem mem{this, mem_malloc, mem_free, mem_calloc, mem_realloc};  // nghttp2 keeps a copy
  nghttp2_session_server_new3(&session_, callbacks, this, option, &mem);
  constructing_ = false;
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);

  // ENABLE_CONNECT_PROTOCOL: WebSocket over HTTP/2 (RFC 8441); nghttp2 then accepts :protocol on a
  // CONNECT, and only there.
  const std::array<nghttp2_settings_entry, 4> entries{{
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings_.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(settings_.max_header_bytes)},
      {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
  }};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries.data(), entries.size());
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<int32_t>(settings_.connection_window));
}

Http2Codec::~Http2Codec() { nghttp2_session_del(session_); }

void* Http2Codec::allocate(size_t size) { return reallocate(nullptr, size); }

// nghttp2 makes its buffers with realloc(nullptr, size).
void* Http2Codec::reallocate(void* p, size_t size) {
  void* moved = std::realloc(p, size);
  if (moved == nullptr) return nullptr;
  const bool new_frame_buffer = p == nullptr && constructing_ && size >= kFrameBufferMin && size > frame_buffer_size_;
  if (new_frame_buffer || (p != nullptr && p == frame_buffer_)) {
    frame_buffer_ = static_cast<std::byte*>(moved);
    frame_buffer_size_ = size;
  }
  return moved;
}

void Http2Codec::deallocate(void* p) {
  if (p != nullptr && p == frame_buffer_) {
    frame_buffer_ = nullptr;
    frame_buffer_size_ = 0;
  }
  std::free(p);
}

void Http2Codec::release_idle_memory() {
  if (frame_buffer_ == nullptr || frame_buffer_released_ || !streams_.empty() || wants_write()) return;
  // Only whole pages inside the block: the allocator's own bytes around it stay untouched.
  static const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto start = reinterpret_cast<uintptr_t>(frame_buffer_);
  const uintptr_t first = (start + page - 1) & ~(page - 1);
  const uintptr_t last = (start + frame_buffer_size_) & ~(page - 1);
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  frame_buffer_released_ = true;
}

bool Http2Codec::receive(std::string_view bytes) {
  const ssize_t n =
      nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (n >= 0) return true;
  // Fatal for nghttp2 (a bad preface, a flood, too many CONTINUATIONs): it queued nothing, so the
  // connection ends with our own GOAWAY.
  error_ = nghttp2_strerror(static_cast<int>(n));
  const uint32_t code = n == NGHTTP2_ERR_FLOODED || n == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS
                            ? NGHTTP2_ENHANCE_YOUR_CALM
                            : NGHTTP2_PROTOCOL_ERROR;
  nghttp2_session_terminate_session(session_, code);
  goaway_ = true;
  return false;
}

bool Http2Codec::produce(std::string& out, size_t limit) {
  while (out.size() < limit) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) return false;
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    frame_buffer_released_ = false;
  }
  return true;
}

bool Http2Codec::wants_read() const { return nghttp2_session_want_read(session_) != 0; }
bool Http2Codec::wants_write() const { return nghttp2_session_want_write(session_) != 0; }

void Http2Codec::consume(Http2Stream& stream, size_t n) {
  if (n == 0) return;
  if (stream.closed) {
    nghttp2_session_consume_connection(session_, n);
  } else {
    nghttp2_session_consume(session_, stream.id, n);
  }
}

bool Http2Codec::submit_response(Http2Stream& stream, std::span<const Http2Field> fields, bool body_follows) {
  if (stream.closed || stream.response_submitted) return false;
  thread_local std::vector<nghttp2_nv> nv;  // nghttp2 copies the fields: one array serves every response
  nv.clear();
  for (const auto& f : fields) nv.push_back(make_nv(f.name, f.value));
  nghttp2_data_provider provider{};
  provider.read_callback = read_callback;
  const int rv = nghttp2_submit_response(session_, stream.id, nv.data(), nv.size(), body_follows ? &provider : nullptr);
  if (rv != 0) return false;
  stream.response_submitted = true;
  if (!body_follows) stream.out_eof = true;
  return true;
}

void Http2Codec::submit_informational(Http2Stream& stream, int status) {
  if (stream.closed || stream.response_submitted) return;
  const std::string code = std::to_string(status);
  const nghttp2_nv nv = make_nv(":status", code);
  nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, stream.id, nullptr, &nv, 1, nullptr);
}

void Http2Codec::resume(Http2Stream& stream) {
  if (!stream.closed && stream.response_submitted) nghttp2_session_resume_data(session_, stream.id);
}

void Http2Codec::reset(Http2Stream& stream, uint32_t error_code) {
  if (!stream.closed) nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.id, error_code);
}

void Http2Codec::goaway(uint32_t error_code) {
  if (goaway_) return;
  goaway_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_), error_code,
                        nullptr, 0);
}

void Http2Codec::abandon_all() {
  auto streams = std::move(streams_);
  streams_.clear();
  complete_heads_ = 0;
  for (auto& [id, stream] : streams) {
    stream->closed = true;
    if (stream->error_code == 0) stream->error_code = NGHTTP2_CANCEL;
    nghttp2_session_set_stream_user_data(session_, id, nullptr);
    listener_.on_stream_change(*stream);
  }
}

Http2Stream* Http2Codec::find(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

int Http2Codec::begin_headers_frame(int32_t id) {
  // RFC 9113 5.1.1: a new stream's id is larger than every id the client used before. nghttp2 ignores
  // a HEADERS below that on a stream it no longer knows (it may be trailers after a reset); a stream id
  // the client never opened (none of the recent ones) is the connection error the RFC asks for.
  if (id <= 0 || (id & 1) == 0 || id >= highest_id_ || nghttp2_session_find_stream(session_, id)) return 0;
  // The list covers every stream until it was first trimmed, else at least the kRecentIds newest.
  if ((!recent_trimmed_ || id >= recent_ids_.front()) &&
      !std::binary_search(recent_ids_.begin(), recent_ids_.end(), id)) {
    nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
    goaway_ = true;
  }
  return 0;
}

int Http2Codec::begin_headers(int32_t id, bool request) {
  if (!request) return 0;
  highest_id_ = std::max(highest_id_, id);
  recent_ids_.push_back(id);  // ids only grow: the list stays sorted
  if (recent_ids_.size() == 2 * kRecentIds) {
    recent_ids_.erase(recent_ids_.begin(), recent_ids_.begin() + kRecentIds);
    recent_trimmed_ = true;
  }
  auto stream = std::make_shared<Http2Stream>();
  stream->id = id;
  stream->fields.reserve(8);  // a typical request's regular fields, without growing through 1, 2, 4
  streams_.emplace(id, std::move(stream));
  return 0;
}

int Http2Codec::header(int32_t id, std::string_view name, std::string_view value) {
  Http2Stream* s = find(id);
  if (!s) return 0;
  // Bounded whatever the HPACK decoder expands: past the limits the fields are dropped and the request
  // is answered 431 (an HPACK bomb costs CPU per byte sent, no memory).
  s->header_bytes += name.size() + value.size() + 32;
  if (++s->header_count > settings_.max_headers || s->header_bytes > settings_.max_header_bytes) {
    s->reject_status = 431;
    s->reject_reason = "request header fields too large";
    return 0;
  }
  if (s->reject_status) return 0;
  if (!name.empty() && name.front() == ':') {
    if (name == ":method") {
      s->method = value;
    } else if (name == ":path") {
      s->path = value;
    } else if (name == ":scheme") {
      s->scheme = value;
    } else if (name == ":authority") {
      s->authority = value;
    } else if (name == ":protocol") {
      s->protocol = value;
    }
    return 0;
  }
  if (name == "host") {
    s->host = value;
    return 0;  // forwarded as the request's host (the handler adds Host)
  }
  if (name == "cookie") {
    // RFC 9113 8.2.3: crumbs are joined with "; " for an HTTP/1.1 hop.
    if (s->cookie_field >= 0) {
      s->fields[static_cast<size_t>(s->cookie_field)].value.append("; ").append(value);
      return 0;
    }
    s->cookie_field = static_cast<int>(s->fields.size());
  }
  if (name == "expect") {
    if (value.size() == 12 && std::equal(value.begin(), value.end(), "100-continue",
                                         [](char a, char b) { return (a | 0x20) == b; }))
      s->expect_continue = true;
    return 0;  // answered here: the HTTP/1.1 hop carries the body without waiting
  }
  s->fields.push_back({std::string(name), std::string(value)});
  return 0;
}

int Http2Codec::trailer(int32_t id, std::string_view name, std::string_view value) {
  Http2Stream* s = find(id);
  if (!s) return 0;
  // Counted with the head against the same limits; past them the trailers are dropped.
  s->header_bytes += name.size() + value.size() + 32;
  if (++s->header_count > settings_.max_headers || s->header_bytes > settings_.max_header_bytes) return 0;
  s->request_trailers.push_back({std::string(name), std::string(value)});
  return 0;
}

int Http2Codec::frame_received(int32_t id, uint8_t type, uint8_t flags, bool request_headers) {
  Http2Stream* s = find(id);
  if (!s) return 0;
  const bool end_stream = (flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (request_headers) {
    if (end_stream) s->body_done = true;
    // RFC 9113 8.3.1: a Host that names another origin than :authority makes the request malformed.
    if (!s->reject_status && !s->authority.empty() && !s->host.empty() && s->authority != s->host) {
      s->reject_status = 400;
      s->reject_reason = "host and :authority differ";
    }
    s->head_complete = true;
    ++complete_heads_;
    listener_.on_request(streams_.at(id));
    return 0;
  }
  if ((type == NGHTTP2_DATA || type == NGHTTP2_HEADERS) && end_stream) {
    s->body_done = true;
    listener_.on_stream_change(*s);
  }
  return 0;
}

int Http2Codec::data_chunk(int32_t id, std::string_view data) {
  Http2Stream* s = find(id);
  if (!s) {
    nghttp2_session_consume_connection(session_, data.size());
    return 0;
  }
  s->body.append(data);
  s->body_received += data.size();
  listener_.on_stream_change(*s);
  return 0;
}

int Http2Codec::stream_closed(int32_t id, uint32_t error_code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return 0;
  std::shared_ptr<Http2Stream> s = std::move(it->second);
  streams_.erase(it);
  if (s->head_complete) --complete_heads_;
  s->closed = true;
  s->error_code = error_code;
  // Body bytes nobody will relay still count against the connection window: give them back.
  if (!s->body.empty()) nghttp2_session_consume_connection(session_, s->body.size());
  s->body.clear();
  listener_.on_stream_change(*s);
  return 0;
}

int Http2Codec::frame_sent(int32_t id, uint8_t type, uint8_t flags) {
  if ((type != NGHTTP2_DATA && type != NGHTTP2_HEADERS) || !(flags & NGHTTP2_FLAG_END_STREAM)) return 0;
  Http2Stream* s = find(id);
  if (!s) return 0;
  s->end_sent = true;
  // The answer went out before the request's body ended (a local reply): the rest is not wanted
  // (RFC 9113 8.1).
  if (!s->body_done) nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
  listener_.on_stream_change(*s);
  return 0;
}

long Http2Codec::read_body(int32_t id, uint8_t* buf, size_t length, uint32_t* data_flags) {
  Http2Stream* s = find(id);
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const size_t n = std::min(length, s->out.size());
  if (n == 0 && !s->out_eof) return NGHTTP2_ERR_DEFERRED;
  std::memcpy(buf, s->out.data(), n);
  s->out.erase(0, n);
  if (s->out.empty() && s->out_eof) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!s->trailers.empty()) {
      // The stream ends with the trailer HEADERS instead of this DATA frame.
      std::vector<nghttp2_nv> nv;
      for (const auto& f : s->trailers) nv.push_back(make_nv(f.name, f.value));
      if (nghttp2_submit_trailer(session_, id, nv.data(), nv.size()) == 0) *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
  }
  listener_.on_stream_change(*s);
  return static_cast<long>(n);
}

}  // namespace mg::http
