// A TLS backend connection in process (upstream_stream.h) over real loopback sockets, against a plain
// OpenSSL server in a thread: a TCP close under TLS reads as EOF, and the idle pool sees a close_notify
// the TLS layer already took from the socket (a peek at the socket cannot).

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <string>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/use_awaitable.hpp>

#include "net/upstream_tls.h"
#include "test_certificate.h"
#include "upstream/connection_pool.h"
#include "upstream/upstream_stream.h"

namespace mg::upstream {
namespace {

using asio::ip::tcp;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

enum class Ending { kKeepOpen, kCloseNotify, kTcpClose };

// Accepts one TLS connection, writes `reply`, then ends it as told (kKeepOpen: leaves it open until the
// test ends). Plain OpenSSL on the socket's descriptor, so what goes on the wire is exactly that.
struct TlsServer {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  tcp::socket accepted{io};
  asio::ssl::context context{asio::ssl::context::tls_server};
  std::thread thread;

  TlsServer(std::string reply, Ending ending) {
    context.use_certificate_chain(asio::buffer(test::kCertPem.data(), test::kCertPem.size()));
    context.use_private_key(asio::buffer(test::kKeyPem.data(), test::kKeyPem.size()), asio::ssl::context::pem);
    thread = std::thread([this, reply = std::move(reply), ending] {
      acceptor.accept(accepted);
      SSL* ssl = SSL_new(context.native_handle());
      SSL_set_fd(ssl, static_cast<int>(accepted.native_handle()));
      if (SSL_accept(ssl) == 1) {
        SSL_write(ssl, reply.data(), static_cast<int>(reply.size()));
        if (ending == Ending::kCloseNotify) SSL_shutdown(ssl);  // sends close_notify, waits for nothing
        if (ending == Ending::kTcpClose) {
          std::error_code ignored;
          accepted.close(ignored);
        }
      }
      SSL_free(ssl);
    });
  }
  ~TlsServer() {
    if (thread.joinable()) thread.join();
  }
};

// A verified client connection to `server`, its handshake done.
std::unique_ptr<UpstreamConnection> connect(asio::io_context& io, TlsServer& server) {
  net::UpstreamTlsSettings settings;
  settings.policy = "default/test";
  settings.ca_pem = std::string(test::kCertPem);  // self-signed: its own CA
  settings.hostname = "backend.wildcard.org";
  auto context = std::make_shared<const net::UpstreamTlsContext>(settings);
  tcp::socket socket(io);
  socket.connect(server.acceptor.local_endpoint());
  UpstreamStream stream(std::move(socket), context);
  EXPECT_TRUE(context->prepare(stream.tls()->native_handle()));
  std::error_code handshake = asio::error::would_block;
  stream.tls()->async_handshake(asio::ssl::stream_base::client, [&](std::error_code ec) { handshake = ec; });
  io.restart();
  io.run();
  EXPECT_FALSE(handshake) << handshake.message();
  auto connection = std::make_unique<UpstreamConnection>(std::move(stream));
  connection->key = "backend";
  return connection;
}

// Reads once from the connection (through its UpstreamStream, as the exchange does).
std::pair<std::error_code, std::string> read_some(asio::io_context& io, UpstreamConnection& c) {
  std::pair<std::error_code, std::string> out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::array<char, 4096> buffer;
        auto [ec, n] = co_await c.stream.async_read_some(asio::buffer(buffer), kNoThrow);
        out = {ec, std::string(buffer.data(), n)};
      },
      asio::detached);
  io.restart();
  io.run();
  return out;
}

TEST(UpstreamStream, TcpCloseUnderTlsReadsAsEof) {
  asio::io_context io;
  TlsServer server("hello", Ending::kTcpClose);
  auto c = connect(io, server);
  server.thread.join();
  ASSERT_TRUE(c->stream.is_tls());
  auto [ec, data] = read_some(io, *c);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(data, "hello");
  auto [end, rest] = read_some(io, *c);
  EXPECT_EQ(end, asio::error::eof) << "OpenSSL says stream_truncated; a close-delimited body must end here: "
                                   << end.message();
}

TEST(UpstreamStream, CloseNotifyReadsAsEof) {
  asio::io_context io;
  TlsServer server("hello", Ending::kCloseNotify);
  auto c = connect(io, server);
  server.thread.join();
  EXPECT_EQ(read_some(io, *c).second, "hello");
  EXPECT_EQ(read_some(io, *c).first, asio::error::eof);
}

TEST(UpstreamStream, IdlePoolDropsATlsConnectionWhoseCloseNotifyTheTlsLayerHolds) {
  asio::io_context io;
  TlsServer server("hello", Ending::kCloseNotify);
  auto c = connect(io, server);
  server.thread.join();  // the reply and the close_notify are both in the socket now: one read takes both
  EXPECT_EQ(read_some(io, *c).second, "hello");
  EXPECT_GT(c->stream.buffered(), 0u) << "the close_notify waits in the TLS layer, not in the socket";
  ConnectionPool pool;
  pool.give_back(std::move(c));
  EXPECT_EQ(pool.close_expired(std::chrono::steady_clock::now(), std::chrono::seconds(60)), 1u);
  EXPECT_EQ(pool.idle_count(), 0u);
}

TEST(UpstreamStream, IdlePoolKeepsAQuietTlsConnection) {
  asio::io_context io;
  TlsServer server("hello", Ending::kKeepOpen);
  auto c = connect(io, server);
  server.thread.join();
  EXPECT_EQ(read_some(io, *c).second, "hello");
  EXPECT_EQ(c->stream.buffered(), 0u);
  ConnectionPool pool;
  pool.give_back(std::move(c));
  EXPECT_EQ(pool.close_expired(std::chrono::steady_clock::now(), std::chrono::seconds(60)), 0u);
  EXPECT_EQ(pool.idle_count(), 1u);
}

}  // namespace
}  // namespace mg::upstream
