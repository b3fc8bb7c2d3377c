// The idle pool lets go of connections that expired or that the backend closed, without waiting for
// a request to find out (real loopback sockets).

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>

#include "upstream/connection_pool.h"

namespace mg::upstream {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct LoopbackPair {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  tcp::socket server{io};
  std::unique_ptr<UpstreamConnection> client;

  LoopbackPair() {
    tcp::socket s(io);
    s.connect(acceptor.local_endpoint());
    acceptor.accept(server);
    client = std::make_unique<UpstreamConnection>(UpstreamStream(std::move(s)));
    client->key = "backend";
  }
};

TEST(ConnectionPool, KeepsAnIdleConnectionUntilItsIdleTimeout) {
  LoopbackPair pair;
  ConnectionPool pool;
  pool.give_back(std::move(pair.client));
  EXPECT_EQ(pool.close_expired(Clock::now(), std::chrono::seconds(60)), 0u);
  EXPECT_EQ(pool.idle_count(), 1u);
  EXPECT_EQ(pool.close_expired(Clock::now() + std::chrono::seconds(61), std::chrono::seconds(60)), 1u);
  EXPECT_EQ(pool.idle_count(), 0u);
  EXPECT_EQ(pool.take("backend"), nullptr);
}

TEST(ConnectionPool, IdleConnectionGivesBackItsBuffersAndStillServes) {
  LoopbackPair pair;
  pair.client->response_head.headers.reserve(16);
  ConnectionPool pool;
  pool.give_back(std::move(pair.client));
  EXPECT_EQ(pool.release_idle_buffers(Clock::now()), 0u) << "a connection idle for under a second keeps them";
  EXPECT_EQ(pool.release_idle_buffers(Clock::now() + std::chrono::seconds(2)), 1u);
  EXPECT_EQ(pool.release_idle_buffers(Clock::now() + std::chrono::seconds(3)), 0u) << "freed once";
  auto c = pool.take("backend");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->buffer.capacity(), 0u);
  EXPECT_EQ(c->response_head.headers.capacity(), 0u);
  // The next response is read into a buffer allocated again.
  asio::write(pair.server, asio::buffer(std::string_view("HTTP/1.1 204 No Content\r\n\r\n")));
  size_t available = 0;
  char* p = c->buffer.prepare(4096, available);
  EXPECT_GE(available, 4096u);
  const size_t n = c->stream.lowest_layer().read_some(asio::buffer(p, available));
  c->buffer.commit(n);
  EXPECT_EQ(c->buffer.readable(), "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST(ConnectionPool, ClosesAnIdleConnectionTheBackendClosed) {
  LoopbackPair pair;
  ConnectionPool pool;
  pool.give_back(std::move(pair.client));
  pair.server.close();  // the backend's FIN
  size_t closed = 0;
  for (int i = 0; i < 200 && closed == 0; ++i) {  // the FIN crosses loopback at once; bounded anyway
    closed = pool.close_expired(Clock::now(), std::chrono::seconds(60));
    if (closed == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(closed, 1u);
  EXPECT_EQ(pool.idle_count(), 0u);
}

TEST(ConnectionPool, ClosesAnIdleConnectionTheBackendWroteTo) {
  LoopbackPair pair;
  ConnectionPool pool;
  pool.give_back(std::move(pair.client));
  asio::write(pair.server, asio::buffer(std::string_view("HTTP/1.1 408 Request Timeout\r\n\r\n")));
  size_t closed = 0;
  for (int i = 0; i < 200 && closed == 0; ++i) {
    closed = pool.close_expired(Clock::now(), std::chrono::seconds(60));
    if (closed == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(closed, 1u);  // unsolicited bytes: the connection cannot carry another request
}

}  // namespace
}  // namespace mg::upstream
