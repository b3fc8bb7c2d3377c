#include "echo/h2c_session.h"

#include <memory>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace mg::echo {
namespace {

constexpr auto kAwait = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kWriteChunk = 64 * 1024;

class Streams final : public http::Http2Codec::Listener {
 public:
  void on_request(const std::shared_ptr<http::Http2Stream>& stream) override { open.push_back(stream); }
  void on_stream_change(http::Http2Stream&) override {}
  std::vector<std::shared_ptr<http::Http2Stream>> open;  // requests not answered yet
};

}  // namespace

asio::awaitable<void> serve_h2c(asio::ip::tcp::socket& socket, std::string initial, const H2cAnswer& answer) {
  Streams streams;
  http::Http2Codec codec(streams, http::Http2Settings{});
  bool alive = codec.receive(initial);
  std::string in(kReadChunk, '\0');
  std::string out;
  std::vector<http::Http2Field> fields;
  for (;;) {
    // Request bodies are read and dropped (the echo reports none), so their windows open at once.
    std::erase_if(streams.open, [&](const std::shared_ptr<http::Http2Stream>& s) {
      codec.consume(*s, s->body.size());
      s->body.clear();
      if (s->closed) return true;
      if (!s->body_done && !s->reject_status) return false;
      fields.clear();
      if (s->reject_status) {
        fields.push_back({":status", std::to_string(s->reject_status)});
        codec.submit_response(*s, fields, false);
        return true;
      }
      answer(*s, fields, s->out);
      s->out_eof = true;
      codec.submit_response(*s, fields, !s->out.empty());
      return true;
    });
    out.clear();
    if (!codec.produce(out, kWriteChunk)) co_return;
    if (!out.empty()) {
      auto [ec, n] = co_await asio::async_write(socket, asio::buffer(out), kAwait);
      (void)n;
      if (ec) co_return;
      continue;  // more may be ready to go
    }
    if (!alive || !codec.wants_read()) co_return;
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(in), kAwait);
    if (ec) co_return;
    alive = codec.receive(std::string_view(in.data(), n));
  }
}

}  // namespace mg::echo
