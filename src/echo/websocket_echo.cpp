#include "echo/websocket_echo.h"

#include <algorithm>
#include <array>
#include <string_view>

#include <asio/buffer.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "http/websocket_frame.h"

namespace mg::echo {
namespace {

namespace ws = http::ws;
constexpr auto kAwait = asio::experimental::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 64 * 1024;

class Connection {
 public:
  Connection(asio::ip::tcp::socket& socket, std::string pending) : socket_(socket), in_(std::move(pending)) {}

  asio::awaitable<void> run() {
    for (;;) {
      ws::FrameHeader h;
      const ws::FrameResult r =
          ws::parse_frame_header(std::string_view(in_).substr(begin_), true, kMaxWebSocketMessage, h);
      if (r.status == ws::FrameStatus::kError) {
        co_await close_with(r.close_code);
        co_return;
      }
      // The whole frame is read before it is handled: it is bounded by the message limit.
      if (r.status == ws::FrameStatus::kIncomplete || in_.size() - begin_ < h.header_length + h.payload_length) {
        if (!co_await read_more()) co_return;
        continue;
      }
      char* payload = in_.data() + begin_ + h.header_length;
      const size_t size = static_cast<size_t>(h.payload_length);
      ws::apply_mask(payload, size, h.mask);
      const std::string_view data(payload, size);
      begin_ += h.header_length + size;
      if (!co_await handle(h, data)) co_return;
    }
  }

 private:
  // False when the connection is over.
  asio::awaitable<bool> handle(const ws::FrameHeader& h, std::string_view data) {
    switch (h.opcode) {
      case ws::kPing:
        co_return co_await send(ws::kPong, data);
      case ws::kPong:
        co_return true;
      case ws::kClose: {
        // A one-byte body cannot hold a code; otherwise the client's code comes back (RFC 6455 5.5.1).
        if (data.size() == 1) {
          co_await close_with(ws::kCloseProtocolError);
          co_return false;
        }
        const std::string code(data.substr(0, 2));
        co_await send(ws::kClose, code);
        shutdown();
        co_return false;
      }
      case ws::kContinuation:
        if (!in_message_) break;
        if (message_.size() + data.size() > kMaxWebSocketMessage) {
          co_await close_with(ws::kCloseTooBig);
          co_return false;
        }
        message_.append(data);
        if (!h.fin) co_return true;
        in_message_ = false;
        co_return co_await send(ws::kText, message_);
      default:  // text or binary: answered as text either way, as x/net/websocket's echo does (echo-basic §9)
        if (in_message_) break;
        if (h.fin) co_return co_await send(ws::kText, data);
        in_message_ = true;
        message_.assign(data);
        co_return true;
    }
    // A continuation with no message begun, or a new message inside one.
    co_await close_with(ws::kCloseProtocolError);
    co_return false;
  }

  asio::awaitable<bool> send(uint8_t opcode, std::string_view payload) {
    out_.clear();
    ws::append_frame_header(out_, true, opcode, payload.size());
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(out_), asio::buffer(payload)};
    auto [ec, n] = co_await asio::async_write(socket_, buffers, kAwait);
    (void)n;
    co_return !ec;
  }

  asio::awaitable<void> close_with(uint16_t code) {
    const char body[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
    co_await send(ws::kClose, std::string_view(body, 2));
    shutdown();
  }

  void shutdown() {
    asio::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  asio::awaitable<bool> read_more() {
    if (begin_ > 0) {  // handled frames go; what is left of the next one moves to the front
      in_.erase(0, begin_);
      begin_ = 0;
    }
    const size_t used = in_.size();
    in_.resize(used + kReadChunk);
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(in_.data() + used, kReadChunk), kAwait);
    in_.resize(used + (ec ? 0 : n));
    co_return !ec;
  }

  asio::ip::tcp::socket& socket_;
  std::string in_;
  size_t begin_ = 0;
  std::string out_;
  std::string message_;  // a fragmented message so far
  bool in_message_ = false;
};

}  // namespace

asio::awaitable<void> echo_websocket(asio::ip::tcp::socket& socket, std::string pending) {
  Connection connection(socket, std::move(pending));
  co_await connection.run();
}

}  // namespace mg::echo
