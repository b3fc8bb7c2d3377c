#pragma once
// The gateway's HTTP/2 server codec (http::Http2Codec) and its upstream client codec
// (upstream::H2ClientCodec) joined in memory, for tests of either: pump() moves the bytes both ways until
// neither has anything to say.

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "http/http2_codec.h"
#include "upstream/h2_client_codec.h"

namespace mg::test {

class H2ServerRecorder final : public http::Http2Codec::Listener {
 public:
  void on_request(const std::shared_ptr<http::Http2Stream>& stream) override { requests.push_back(stream); }
  void on_stream_change(http::Http2Stream&) override {}
  std::vector<std::shared_ptr<http::Http2Stream>> requests;
};

class H2ClientCounter final : public upstream::H2ClientCodec::Listener {
 public:
  void on_stream_change(upstream::H2ClientStream&) override { ++changes; }
  int changes = 0;
};

class H2CodecPair : public ::testing::Test {
 protected:
  explicit H2CodecPair(http::Http2Settings settings = {}, uint32_t client_window = 16 * 1024)
      : server_codec_(server_, settings), client_codec_(client_, client_window) {}

  void pump() {
    for (int i = 0; i < 100; ++i) {
      std::string a, b;
      ASSERT_TRUE(client_codec_.produce(a, 1 << 20));
      if (!a.empty()) {
        ASSERT_TRUE(server_codec_.receive(a));
      }
      ASSERT_TRUE(server_codec_.produce(b, 1 << 20));
      if (!b.empty()) {
        ASSERT_TRUE(client_codec_.receive(b));
      }
      if (a.empty() && b.empty()) return;
    }
    FAIL() << "the codecs never went quiet";
  }

  // A GET submitted by the client (not yet pumped).
  std::shared_ptr<upstream::H2ClientStream> get(const std::string& path) {
    auto stream = std::make_shared<upstream::H2ClientStream>();
    const std::vector<http::Http2Field> fields{
        {":method", "GET"}, {":scheme", "http"}, {":authority", "backend.example"}, {":path", path}};
    EXPECT_TRUE(client_codec_.submit(stream, fields, false));
    return stream;
  }

  H2ServerRecorder server_;
  H2ClientCounter client_;
  http::Http2Codec server_codec_;
  upstream::H2ClientCodec client_codec_;
};

}  // namespace mg::test
