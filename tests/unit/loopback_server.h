#pragma once
// A server on an ephemeral loopback port, run by the test's own io_context: every connection it accepts
// is handed to `serve` as a coroutine, and kept open until the server goes (so a test can black-hole).
// The scripted backends and mirror pods of the upstream, mirror and request-path tests are built on it.

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>

namespace mg::test {

class LoopbackServer {
 public:
  using Socket = std::shared_ptr<asio::ip::tcp::socket>;
  using Serve = std::function<asio::awaitable<void>(Socket)>;

  LoopbackServer(asio::io_context& io, Serve serve)
      : acceptor_(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), serve_(std::move(serve)) {
    asio::co_spawn(io, accept_loop(), asio::detached);
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void stop_accepting() { acceptor_.close(); }  // the port refuses connections from now on

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      auto s = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
      sockets_.push_back(s);
      asio::co_spawn(acceptor_.get_executor(), serve_(s), asio::detached);
    }
  }

  asio::ip::tcp::acceptor acceptor_;
  Serve serve_;
  std::vector<Socket> sockets_;
};

}  // namespace mg::test
