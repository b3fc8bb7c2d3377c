// net::TlsSocket (net/tls_socket.h) over real loopback sockets: against itself (both ends in one
// io_context, each with a read and a write in flight at once) and against plain blocking OpenSSL in a
// thread where the test must control the bytes on the wire (a record cut short by a TCP close).

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "net/tls_socket.h"
#include "test_certificate.h"

namespace mg::net {
namespace {

using asio::ip::tcp;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

asio::ssl::context server_context() {
  asio::ssl::context context(asio::ssl::context::tls_server);
  context.use_certificate_chain(asio::buffer(test::kCertPem.data(), test::kCertPem.size()));
  context.use_private_key(asio::buffer(test::kKeyPem.data(), test::kKeyPem.size()), asio::ssl::context::pem);
  return context;
}

asio::ssl::context client_context() {
  asio::ssl::context context(asio::ssl::context::tls_client);
  context.set_verify_mode(asio::ssl::verify_none);
  return context;
}

// `size` bytes that differ from one offset to the next, so a lost, repeated or reordered piece shows.
std::string pattern(size_t size, unsigned seed) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 131 + seed * 7 + i / 251) & 0xff);
  return out;
}

// A connected pair of loopback TCP sockets.
std::pair<tcp::socket, tcp::socket> socket_pair(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(io), server(io);
  client.connect(acceptor.local_endpoint());
  acceptor.accept(server);
  return {std::move(client), std::move(server)};
}

// Both ends of a TLS connection over loopback, handshaken.
struct TlsPair {
  asio::io_context io;
  asio::ssl::context server_ctx = server_context();
  asio::ssl::context client_ctx = client_context();
  std::unique_ptr<TlsSocket> client, server;

  TlsPair() {
    std::signal(SIGPIPE, SIG_IGN);  // as main() does: OpenSSL writes with write(2)
    auto [c, s] = socket_pair(io);
    client = std::make_unique<TlsSocket>(std::move(c), client_ctx);
    server = std::make_unique<TlsSocket>(std::move(s), server_ctx);
    std::error_code client_ec = asio::error::would_block, server_ec = asio::error::would_block;
    client->async_handshake(asio::ssl::stream_base::client, [&](std::error_code ec) { client_ec = ec; });
    server->async_handshake(asio::ssl::stream_base::server, [&](std::error_code ec) { server_ec = ec; });
    run();
    EXPECT_FALSE(client_ec) << client_ec.message();
    EXPECT_FALSE(server_ec) << server_ec.message();
  }
  void run() {
    io.restart();
    io.run_for(std::chrono::seconds(20));
    EXPECT_TRUE(io.stopped()) << "operations still pending after 20 s";
  }
};

// Reads until EOF or error; returns what came and how it ended.
asio::awaitable<void> read_all(TlsSocket& s, std::string& got, std::error_code& end) {
  std::vector<char> buffer(16 * 1024);
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buffer), kNoThrow);
    got.append(buffer.data(), n);
    if (ec) {
      end = ec;
      co_return;
    }
  }
}

// Reads exactly `size` bytes.
asio::awaitable<void> read_exactly(TlsSocket& s, size_t size, std::string& got, std::error_code& end) {
  got.resize(size);
  auto [ec, n] = co_await asio::async_read(s, asio::buffer(got), kNoThrow);
  got.resize(n);
  end = ec;
}

// Writes `data` in pieces of `piece` bytes, each write a sequence of three buffers.
asio::awaitable<void> write_in_pieces(TlsSocket& s, const std::string& data, size_t piece, std::error_code& end) {
  for (size_t at = 0; at < data.size(); at += piece) {
    const size_t n = std::min(piece, data.size() - at);
    const size_t third = n / 3;
    std::array<asio::const_buffer, 3> parts{asio::buffer(data.data() + at, third),
                                            asio::buffer(data.data() + at + third, third),
                                            asio::buffer(data.data() + at + 2 * third, n - 2 * third)};
    auto [ec, written] = co_await asio::async_write(s, parts, kNoThrow);
    if (ec) {
      end = ec;
      co_return;
    }
    EXPECT_EQ(written, n);
  }
}

TEST(TlsSocket, CarriesLargeAndSmallWritesBothWaysAtOnce) {
  TlsPair pair;
  const std::string up = pattern(3 * 1024 * 1024 + 17, 1);  // large writes, many records each
  const std::string down = pattern(200 * 1000 + 3, 2);       // small writes: 1000 bytes at a time
  std::string got_up, got_down;
  std::error_code write_up, write_down, read_up, read_down;
  // Each end has a read and a write in flight on the same TlsSocket, as the HTTP/2 session has.
  asio::co_spawn(pair.io, write_in_pieces(*pair.client, up, 256 * 1024, write_up), asio::detached);
  asio::co_spawn(pair.io, read_exactly(*pair.client, down.size(), got_down, read_down), asio::detached);
  asio::co_spawn(pair.io, write_in_pieces(*pair.server, down, 1000, write_down), asio::detached);
  asio::co_spawn(pair.io, read_exactly(*pair.server, up.size(), got_up, read_up), asio::detached);
  pair.run();
  EXPECT_FALSE(write_up) << write_up.message();
  EXPECT_FALSE(write_down) << write_down.message();
  EXPECT_FALSE(read_up) << read_up.message();
  EXPECT_FALSE(read_down) << read_down.message();
  EXPECT_TRUE(got_up == up) << "client to server: " << got_up.size() << " of " << up.size() << " bytes, or altered";
  EXPECT_TRUE(got_down == down) << "server to client: " << got_down.size() << " of " << down.size();
}

TEST(TlsSocket, CloseNotifyReadsAsEofAndBothShutdownsComplete) {
  TlsPair pair;
  std::string got;
  std::error_code end, server_shutdown = asio::error::would_block, client_shutdown = asio::error::would_block;
  asio::co_spawn(
      pair.io,
      [&]() -> asio::awaitable<void> {
        co_await asio::async_write(*pair.server, asio::buffer(std::string_view("last words")), kNoThrow);
        auto [ec] = co_await pair.server->async_shutdown(kNoThrow);  // waits for the client's close_notify
        server_shutdown = ec;
      },
      asio::detached);
  asio::co_spawn(
      pair.io,
      [&]() -> asio::awaitable<void> {
        co_await read_all(*pair.client, got, end);
        auto [ec] = co_await pair.client->async_shutdown(kNoThrow);
        client_shutdown = ec;
      },
      asio::detached);
  pair.run();
  EXPECT_EQ(got, "last words");
  EXPECT_EQ(end, asio::error::eof) << end.message();
  EXPECT_FALSE(client_shutdown) << client_shutdown.message();
  EXPECT_FALSE(server_shutdown) << server_shutdown.message();
}

TEST(TlsSocket, TcpCloseMidRecordIsStreamTruncated) {
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io;
  asio::ssl::context server_ctx = server_context();
  asio::ssl::context client_ctx = client_context();
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  // A blocking OpenSSL server: handshake on the socket, then one record of which only the first half
  // goes out before the TCP close.
  std::thread peer([&] {
    tcp::socket s(io);
    acceptor.accept(s);
    SSL* ssl = SSL_new(server_ctx.native_handle());
    SSL_set_fd(ssl, static_cast<int>(s.native_handle()));
    if (SSL_accept(ssl) == 1) {
      BIO* capture = BIO_new(BIO_s_mem());
      SSL_set0_wbio(ssl, capture);  // the record goes here, not to the socket
      const std::string body = pattern(4000, 3);
      SSL_write(ssl, body.data(), static_cast<int>(body.size()));
      char* record = nullptr;
      const long size = BIO_get_mem_data(capture, &record);
      ::send(s.native_handle(), record, static_cast<size_t>(size / 2), 0);
    }
    std::error_code ignored;
    s.close(ignored);
    SSL_free(ssl);
  });
  tcp::socket socket(io);
  socket.connect(acceptor.local_endpoint());
  TlsSocket client(std::move(socket), client_ctx);
  std::error_code handshake = asio::error::would_block, end;
  std::string got;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto [ec] = co_await client.async_handshake(asio::ssl::stream_base::client, kNoThrow);
        handshake = ec;
        if (!ec) co_await read_all(client, got, end);
      },
      asio::detached);
  io.run_for(std::chrono::seconds(20));
  peer.join();
  EXPECT_FALSE(handshake) << handshake.message();
  EXPECT_EQ(got, "") << "half a record is no data";
  EXPECT_EQ(end, asio::ssl::error::stream_truncated) << end.message();
}

TEST(TlsSocket, WatchdogCancelEndsAWaitingReadAndLeavesTheStreamUsable) {
  TlsPair pair;
  std::error_code first, second;
  std::string got;
  asio::steady_timer watchdog(pair.io, std::chrono::milliseconds(50));
  watchdog.async_wait([&](std::error_code) {
    std::error_code ignored;
    pair.client->next_layer().cancel(ignored);
  });
  asio::co_spawn(
      pair.io,
      [&]() -> asio::awaitable<void> {
        std::array<char, 64> buffer;
        auto [ec, n] = co_await pair.client->async_read_some(asio::buffer(buffer), kNoThrow);  // nothing comes
        first = ec;
        co_await asio::async_write(*pair.server, asio::buffer(std::string_view("after")), kNoThrow);
        auto [ec2, n2] = co_await pair.client->async_read_some(asio::buffer(buffer), kNoThrow);
        second = ec2;
        got.assign(buffer.data(), n2);
      },
      asio::detached);
  pair.run();
  EXPECT_EQ(first, asio::error::operation_aborted) << first.message();
  EXPECT_FALSE(second) << second.message();
  EXPECT_EQ(got, "after");
}

TEST(TlsSocket, WatchdogCloseEndsAWaitingReadAndLaterOperationsFailWithoutTheDescriptor) {
  TlsPair pair;
  std::error_code read_end, write_end;
  asio::steady_timer watchdog(pair.io, std::chrono::milliseconds(50));
  watchdog.async_wait([&](std::error_code) {
    std::error_code ignored;
    pair.client->next_layer().close(ignored);
  });
  asio::co_spawn(
      pair.io,
      [&]() -> asio::awaitable<void> {
        std::array<char, 64> buffer;
        auto [ec, n] = co_await pair.client->async_read_some(asio::buffer(buffer), kNoThrow);
        read_end = ec;
        auto [ec2, n2] = co_await pair.client->async_write_some(asio::buffer(std::string_view("x")), kNoThrow);
        write_end = ec2;
      },
      asio::detached);
  pair.run();
  EXPECT_EQ(read_end, asio::error::operation_aborted) << read_end.message();
  EXPECT_EQ(write_end, asio::error::bad_descriptor) << write_end.message();
}

TEST(TlsSocket, WriteToAPeerThatDoesNotReadWaitsAndFinishesOnceItReads) {
  TlsPair pair;
  const std::string data = pattern(16 * 1024 * 1024, 4);  // far beyond both socket buffers
  bool written = false;
  std::error_code write_end, read_end, ping_end;
  std::string got, ping;
  asio::co_spawn(
      pair.io,
      [&]() -> asio::awaitable<void> {
        auto [ec, n] = co_await asio::async_write(*pair.client, asio::buffer(data), kNoThrow);
        write_end = ec;
        written = true;
      },
      asio::detached);
  // While the write waits on the full socket, a read on the same stream still works.
  asio::co_spawn(pair.io, read_exactly(*pair.client, 4, ping, ping_end), asio::detached);
  asio::steady_timer later(pair.io, std::chrono::milliseconds(200));
  later.async_wait([&](std::error_code) {
    EXPECT_FALSE(written) << "16 MiB cannot fit in the socket buffers of a peer that does not read";
    asio::co_spawn(
        pair.io,
        [&]() -> asio::awaitable<void> {
          co_await asio::async_write(*pair.server, asio::buffer(std::string_view("ping")), kNoThrow);
          co_await read_exactly(*pair.server, data.size(), got, read_end);
        },
        asio::detached);
  });
  pair.run();
  EXPECT_TRUE(written);
  EXPECT_FALSE(write_end) << write_end.message();
  EXPECT_FALSE(read_end) << read_end.message();
  EXPECT_FALSE(ping_end) << ping_end.message();
  EXPECT_EQ(ping, "ping");
  EXPECT_TRUE(got == data) << got.size() << " of " << data.size() << " bytes, or altered";
}

TEST(TlsSocket, AFailedHandshakeReportsAnSslError) {
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io;
  asio::ssl::context server_ctx = server_context();
  asio::ssl::context client_ctx(asio::ssl::context::tls_client);
  client_ctx.set_verify_mode(asio::ssl::verify_peer);  // no CA: the self-signed certificate fails
  auto [c, s] = socket_pair(io);
  TlsSocket client(std::move(c), client_ctx), server(std::move(s), server_ctx);
  std::error_code client_ec, server_ec;
  client.async_handshake(asio::ssl::stream_base::client, [&](std::error_code ec) {
    client_ec = ec;
    std::error_code ignored;
    client.next_layer().close(ignored);
  });
  server.async_handshake(asio::ssl::stream_base::server, [&](std::error_code ec) { server_ec = ec; });
  io.run_for(std::chrono::seconds(20));
  EXPECT_EQ(client_ec.category(), asio::error::get_ssl_category()) << client_ec.message();
  EXPECT_TRUE(server_ec) << "the client's alert (or its close) fails the server's handshake too";
  EXPECT_EQ(SSL_get_verify_result(client.native_handle()), X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
}

}  // namespace
}  // namespace mg::net
