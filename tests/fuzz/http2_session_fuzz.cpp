// libFuzzer target for the HTTP/2 session layer (http/http2_codec.cpp over nghttp2): bytes from a
// client in, requests, bodies, resets and frames out. The connection preface is sent first so that
// the input reaches the frames; each request is answered with a short body and its request body is
// taken (consumed) as the session does, so the response and flow-control paths run too.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/http2_codec.h"

namespace {

class Listener final : public mg::http::Http2Codec::Listener {
 public:
  mg::http::Http2Codec* codec = nullptr;
  std::vector<std::shared_ptr<mg::http::Http2Stream>> requests;
  void on_request(const std::shared_ptr<mg::http::Http2Stream>& stream) override { requests.push_back(stream); }
  void on_stream_change(mg::http::Http2Stream&) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Listener listener;
  mg::http::Http2Settings settings;
  settings.max_concurrent_streams = 8;
  settings.max_header_bytes = 8192;
  mg::http::Http2Codec codec(listener, settings);
  std::string out;
  if (!codec.receive("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Fed in pieces whose sizes come from the input's first byte: frames split across reads.
  const size_t piece = size > 0 ? 1 + static_cast<uint8_t>(input[0]) % 97 : 1;
  while (!input.empty()) {
    const std::string_view chunk = input.substr(0, piece);
    input.remove_prefix(chunk.size());
    const bool ok = codec.receive(chunk);
    for (auto& stream : listener.requests) {
      const std::vector<mg::http::Http2Field> fields{{":status", stream->reject_status ? "431" : "200"},
                                                      {"content-type", "text/plain"}};
      stream->out = stream->method + " " + stream->path;
      stream->out_eof = stream->body_done;
      codec.submit_response(*stream, fields, true);
    }
    listener.requests.clear();
    out.clear();
    if (!codec.produce(out, 1 << 20) || !ok) break;
  }
  return 0;
}
