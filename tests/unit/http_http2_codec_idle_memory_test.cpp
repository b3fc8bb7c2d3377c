// An idle HTTP/2 connection gives back nghttp2's 16 KiB outbound frame buffer (Http2Codec::
// release_idle_memory): its pages leave memory (mincore says so) once no stream is open and nothing is
// queued, never while a stream is open, and the session works as before afterwards.

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "h2_codec_pair.h"
#include "http/http2_codec.h"
#include "upstream/h2_client_codec.h"

namespace mg::http {
namespace {

// Whole pages of the frame buffer that are in memory.
size_t resident_pages(std::span<const std::byte> buffer) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto start = reinterpret_cast<uintptr_t>(buffer.data());
  const uintptr_t first = (start + page - 1) & ~(page - 1);
  const uintptr_t last = (start + buffer.size()) & ~(page - 1);
  std::vector<unsigned char> in_core((last - first) / page);
  EXPECT_EQ(::mincore(reinterpret_cast<void*>(first), last - first, in_core.data()), 0);
  size_t n = 0;
  for (unsigned char c : in_core) n += c & 1;
  return n;
}

class Http2CodecIdleMemoryTest : public test::H2CodecPair {
 protected:
  Http2CodecIdleMemoryTest() : H2CodecPair(Http2Settings{}, 1 << 20) {}

  std::shared_ptr<upstream::H2ClientStream> get_now(const std::string& path) {
    auto stream = get(path);
    pump();
    return stream;
  }

  // Answers the newest request with `body` (12 KiB: DATA frames that fill most of the buffer's pages).
  void answer(const std::string& body) {
    Http2Stream& s = *server_.requests.back();
    s.out = body;
    s.out_eof = true;
    const std::vector<Http2Field> fields{{":status", "200"}};
    ASSERT_TRUE(server_codec_.submit_response(s, fields, true));
    pump();
  }

};

TEST_F(Http2CodecIdleMemoryTest, TheFrameBufferLeavesMemoryWhenTheConnectionIsIdle) {
  ASSERT_GE(server_codec_.outbound_frame_buffer().size(), 16u * 1024);
  const std::string body(12 * 1024, 'a');
  auto stream = get_now("/first");
  answer(body);
  ASSERT_EQ(stream->body, body);
  ASSERT_EQ(server_codec_.open_streams(), 0u);
  ASSERT_GE(resident_pages(server_codec_.outbound_frame_buffer()), 2u);

  server_codec_.release_idle_memory();
  EXPECT_EQ(resident_pages(server_codec_.outbound_frame_buffer()), 0u);

  // The session goes on as before: the next answer is whole.
  const std::string second(12 * 1024, 'b');
  auto next = get_now("/second");
  answer(second);
  EXPECT_EQ(next->body, second);
  EXPECT_GE(resident_pages(server_codec_.outbound_frame_buffer()), 2u);
}

TEST_F(Http2CodecIdleMemoryTest, NothingIsGivenBackWhileAStreamIsOpen) {
  auto stream = get_now("/first");
  Http2Stream& s = *server_.requests.back();
  s.out = std::string(12 * 1024, 'a');  // half an answer: the stream stays open
  const std::vector<Http2Field> fields{{":status", "200"}};
  ASSERT_TRUE(server_codec_.submit_response(s, fields, true));
  pump();
  ASSERT_EQ(server_codec_.open_streams(), 1u);
  const size_t before = resident_pages(server_codec_.outbound_frame_buffer());
  ASSERT_GE(before, 2u);

  server_codec_.release_idle_memory();
  EXPECT_EQ(resident_pages(server_codec_.outbound_frame_buffer()), before);
  s.out += std::string(100, 'z');
  s.out_eof = true;
  server_codec_.resume(s);
  pump();
  EXPECT_EQ(stream->body, std::string(12 * 1024, 'a') + std::string(100, 'z'));
}

}  // namespace
}  // namespace mg::http
