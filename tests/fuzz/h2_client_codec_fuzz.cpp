// libFuzzer target for the upstream HTTP/2 client codec (upstream/h2_client_codec.cpp over nghttp2): bytes
// from a backend, fed in pieces, to a session with two requests in flight (one with a body); response
// bodies are consumed as they arrive, as the bridge does, and the frames to send are produced after each
// piece. Looks for crashes and unbounded growth in the codec, not for nghttp2's own bugs.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/http2_codec.h"
#include "upstream/h2_client_codec.h"

namespace {

class Listener final : public mg::upstream::H2ClientCodec::Listener {
 public:
  void on_stream_change(mg::upstream::H2ClientStream&) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Listener listener;
  mg::upstream::H2ClientCodec codec(listener, 16 * 1024);
  const std::vector<mg::http::Http2Field> get{
      {":method", "GET"}, {":scheme", "http"}, {":authority", "backend"}, {":path", "/a"}};
  const std::vector<mg::http::Http2Field> post{
      {":method", "POST"}, {":scheme", "http"}, {":authority", "backend"}, {":path", "/b"}};
  std::vector<std::shared_ptr<mg::upstream::H2ClientStream>> streams{
      std::make_shared<mg::upstream::H2ClientStream>(), std::make_shared<mg::upstream::H2ClientStream>()};
  codec.submit(streams[0], get, false);
  streams[1]->out = "request body";
  streams[1]->out_eof = true;
  codec.submit(streams[1], post, true);
  std::string out;
  if (!codec.produce(out, 1 << 20)) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Fed in pieces whose sizes come from the input's first byte: frames split across reads.
  const size_t piece = size > 0 ? 1 + static_cast<uint8_t>(input[0]) % 97 : 1;
  while (!input.empty()) {
    const std::string_view chunk = input.substr(0, piece);
    input.remove_prefix(chunk.size());
    const bool ok = codec.receive(chunk);
    for (auto& stream : streams) {
      codec.consume(*stream, stream->body.size());
      stream->body.clear();
    }
    out.clear();
    if (!codec.produce(out, 1 << 20) || !ok) break;
  }
  return 0;
}
