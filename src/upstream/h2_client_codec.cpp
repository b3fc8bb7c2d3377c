#include "upstream/h2_client_codec.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <nghttp2/nghttp2.h>

namespace mg::upstream {
namespace {

H2ClientCodec& codec_of(void* user_data) { return *static_cast<H2ClientCodec*>(user_data); }
std::string_view view(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return codec_of(user_data).begin_headers(frame->hd.stream_id);
}

int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen, const uint8_t* value,
              size_t valuelen, uint8_t, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  return codec_of(user_data).header(frame->hd.stream_id, view(name, namelen), view(value, valuelen));
}

int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  return codec_of(user_data).frame_received(frame->hd.stream_id, frame->hd.type, frame->hd.flags);
}

int on_data_chunk_recv(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                       void* user_data) {
  return codec_of(user_data).data_chunk(stream_id, view(data, len));
}

int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  return codec_of(user_data).stream_closed(stream_id, error_code);
}

ssize_t read_callback(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* data_flags,
                      nghttp2_data_source*, void* user_data) {
  return codec_of(user_data).read_body(stream_id, buf, length, data_flags);
}

}  // namespace

bool H2ClientStream::refused() const {
  return closed && error_code == NGHTTP2_REFUSED_STREAM && !head_done;
}

H2ClientCodec::H2ClientCodec(Listener& listener, uint32_t stream_window) : listener_(listener) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  // The windows open as the response bytes are relayed (consume), not as they arrive.
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_session_client_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  const std::array<nghttp2_settings_entry, 2> entries{{
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, stream_window},
  }};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, entries.data(), entries.size());
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, static_cast<int32_t>(stream_window) * 16);
}

H2ClientCodec::~H2ClientCodec() { nghttp2_session_del(session_); }

bool H2ClientCodec::receive(std::string_view bytes) {
  const ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (n >= 0) return true;
  error_ = nghttp2_strerror(static_cast<int>(n));
  failed_ = true;
  nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
  return false;
}

bool H2ClientCodec::produce(std::string& out, size_t limit) {
  while (out.size() < limit) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      failed_ = true;
      return false;
    }
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  return true;
}

bool H2ClientCodec::wants_read() const { return nghttp2_session_want_read(session_) != 0; }
bool H2ClientCodec::wants_write() const { return nghttp2_session_want_write(session_) != 0; }

bool H2ClientCodec::draining() const {
  return failed_ || nghttp2_session_check_request_allowed(session_) == 0;
}

bool H2ClientCodec::full() const {
  return streams_.size() >= nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

bool H2ClientCodec::submit(const std::shared_ptr<H2ClientStream>& stream, std::span<const http::Http2Field> fields,
                           bool body_follows) {
  if (draining()) return false;
  std::vector<nghttp2_nv> nv;
  nv.reserve(fields.size());
  for (const auto& f : fields)  // nghttp2 copies names and values while it queues the frame
    nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(f.name.data())),
                  reinterpret_cast<uint8_t*>(const_cast<char*>(f.value.data())), f.name.size(), f.value.size(),
                  NGHTTP2_NV_FLAG_NONE});
  nghttp2_data_provider provider{};
  provider.read_callback = read_callback;
  const int32_t id =
      nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), body_follows ? &provider : nullptr, nullptr);
  if (id < 0) return false;
  stream->id = id;
  if (!body_follows) stream->out_eof = true;
  streams_.emplace(id, stream);
  return true;
}

void H2ClientCodec::resume(H2ClientStream& stream) {
  if (!stream.closed) nghttp2_session_resume_data(session_, stream.id);
}

void H2ClientCodec::consume(H2ClientStream& stream, size_t n) {
  if (n == 0) return;
  if (stream.closed) {
    nghttp2_session_consume_connection(session_, n);
  } else {
    nghttp2_session_consume(session_, stream.id, n);
  }
}

void H2ClientCodec::reset(H2ClientStream& stream, uint32_t error_code) {
  if (!stream.closed) nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.id, error_code);
}

void H2ClientCodec::abandon_all() {
  failed_ = true;
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, stream] : streams) {
    stream->closed = true;
    if (stream->error_code == 0) stream->error_code = NGHTTP2_CANCEL;
    listener_.on_stream_change(*stream);
  }
}

H2ClientStream* H2ClientCodec::find(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

int H2ClientCodec::begin_headers(int32_t id) {
  H2ClientStream* s = find(id);
  if (s && !s->head_done) {  // a new head: the one before it, if any, was a 1xx
    s->status = 0;
    s->fields.clear();
  }
  return 0;
}

int H2ClientCodec::header(int32_t id, std::string_view name, std::string_view value) {
  H2ClientStream* s = find(id);
  if (!s) return 0;
  if (s->head_done) {
    s->trailers.push_back({std::string(name), std::string(value)});
  } else if (name == ":status") {
    s->status = 0;
    for (char c : value) s->status = s->status * 10 + (c - '0');  // nghttp2 checked: three digits
  } else if (name.empty() || name.front() != ':') {
    s->fields.push_back({std::string(name), std::string(value)});
  }
  return 0;
}

int H2ClientCodec::frame_received(int32_t id, uint8_t type, uint8_t flags) {
  H2ClientStream* s = find(id);
  if (!s || (type != NGHTTP2_HEADERS && type != NGHTTP2_DATA)) return 0;
  if (type == NGHTTP2_HEADERS && !s->head_done) {
    if (s->status >= 200) {
      s->head_done = true;
    } else {  // 100 Continue, 103 Early Hints: not relayed
      s->status = 0;
      s->fields.clear();
    }
  }
  if (flags & NGHTTP2_FLAG_END_STREAM) s->body_done = true;
  listener_.on_stream_change(*s);
  return 0;
}

int H2ClientCodec::data_chunk(int32_t id, std::string_view data) {
  H2ClientStream* s = find(id);
  if (!s) {
    nghttp2_session_consume_connection(session_, data.size());
    return 0;
  }
  s->body.append(data);
  listener_.on_stream_change(*s);
  return 0;
}

int H2ClientCodec::stream_closed(int32_t id, uint32_t error_code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return 0;
  std::shared_ptr<H2ClientStream> s = std::move(it->second);
  streams_.erase(it);
  s->closed = true;
  s->error_code = error_code;
  listener_.on_stream_change(*s);
  return 0;
}

long H2ClientCodec::read_body(int32_t id, uint8_t* buf, size_t length, uint32_t* data_flags) {
  H2ClientStream* s = find(id);
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const size_t n = std::min(length, s->out.size());
  if (n == 0 && !s->out_eof) return NGHTTP2_ERR_DEFERRED;
  std::memcpy(buf, s->out.data(), n);
  s->out.erase(0, n);
  if (s->out.empty() && s->out_eof) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  listener_.on_stream_change(*s);
  return static_cast<long>(n);
}

}  // namespace mg::upstream
