// The HTTP/2 session driven by an nghttp2 client over loopback TCP, through the real RequestHandler to
// scripted HTTP/1.1 backends: a GET and a POST with its body, a response held back by the client's
// flow-control window (the backend is not read ahead of it), the concurrent-streams limit, and the
// requests HTTP/2 makes malformed (bad pseudo-headers, connection-specific fields, a content-length the
// DATA does not match, an oversized header list, Host against :authority), CONNECT, cookie crumbs.

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <nghttp2/nghttp2.h>

#include "config/loader.h"
#include "fixtures.h"
#include "loopback_server.h"
#include "mirror/mirror_context.h"
#include "net/client_stream.h"
#include "net/socket_watchdog.h"
#include "proxy/http2_session.h"
#include "route/cluster_set.h"
#include "route/translator.h"

namespace mg::proxy {
namespace {

using namespace std::chrono_literals;
using asio::ip::tcp;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

// A backend that records each request (head, and a Content-Length or chunked body) and answers with
// `reply` (or, when `body_bytes` is set, a head and that many bytes written as fast as it is read).
struct Backend {
  Backend(asio::io_context& io, std::string answer)
      : reply(std::move(answer)), server(io, [this](test::LoopbackServer::Socket s) { return serve(s); }) {}
  asio::awaitable<void> serve(test::LoopbackServer::Socket socket) {
    std::string buffer;
    for (;;) {
      auto [ec, n] = co_await asio::async_read_until(*socket, asio::dynamic_buffer(buffer), "\r\n\r\n", kNoThrow);
      if (ec) co_return;
      std::string head = buffer.substr(0, n);
      buffer.erase(0, n);
      std::string body;
      if (auto at = head.find("Content-Length: "); at != std::string::npos) {
        const size_t length = std::stoul(head.substr(at + 16));
        if (buffer.size() < length) {
          auto [ec2, m] = co_await asio::async_read(*socket, asio::dynamic_buffer(buffer),
                                                    asio::transfer_exactly(length - buffer.size()), kNoThrow);
          if (ec2) co_return;
        }
        body = buffer.substr(0, length);
        buffer.erase(0, length);
      } else if (head.find("Transfer-Encoding: chunked") != std::string::npos) {
        // Up to the last chunk and its trailer section (test bodies hold no "\r\n0\r\n" of their own).
        auto end_of_body = [](const std::string& b) -> size_t {
          const size_t last = b.starts_with("0\r\n") ? 0 : b.find("\r\n0\r\n");
          if (last == std::string::npos) return 0;
          const size_t end = b.find("\r\n\r\n", last == 0 ? 1 : last + 3);
          return end == std::string::npos ? 0 : end + 4;
        };
        while (end_of_body(buffer) == 0) {
          char chunk[4096];
          auto [ec2, m] = co_await socket->async_read_some(asio::buffer(chunk), kNoThrow);
          if (ec2) co_return;
          buffer.append(chunk, m);
        }
        const size_t m = end_of_body(buffer);
        body = buffer.substr(0, m);  // still chunk-encoded
        buffer.erase(0, m);
      }
      requests.push_back(head + body);
      if (body_bytes == 0) {
        co_await asio::async_write(*socket, asio::buffer(reply), kNoThrow);
        continue;
      }
      const std::string big_head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body_bytes) + "\r\n\r\n";
      co_await asio::async_write(*socket, asio::buffer(big_head), kNoThrow);
      const std::string piece(64 * 1024, 'x');
      while (written < body_bytes) {
        const size_t n2 = std::min<size_t>(piece.size(), body_bytes - written);
        auto [ec3, m] = co_await asio::async_write(*socket, asio::buffer(piece.data(), n2), kNoThrow);
        if (ec3) co_return;
        written += m;
      }
    }
  }
  uint16_t port() const { return server.port(); }

  std::string reply;
  size_t body_bytes = 0;
  size_t written = 0;
  std::vector<std::string> requests;
  test::LoopbackServer server;
};

// One answer as the client saw it.
struct Answer {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  bool closed = false;
  uint32_t reset = 0;  // RST_STREAM error code (0: ended normally)
};

// An nghttp2 client session over a loopback socket, pumped by a coroutine on the test's io_context.
class Client {
 public:
  Client(asio::io_context& io, uint16_t port, uint32_t window = 65535) : socket_(io) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen, const uint8_t* value,
               size_t valuelen, uint8_t, void* self) {
          auto& answer = static_cast<Client*>(self)->answers[frame->hd.stream_id];
          std::string n(reinterpret_cast<const char*>(name), namelen), v(reinterpret_cast<const char*>(value), valuelen);
          if (n == ":status") {
            const int status = std::stoi(v);
            if (status >= 200) answer.status = status;
          } else {
            answer.headers[n] = v;
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* self) {
          static_cast<Client*>(self)->answers[id].body.append(reinterpret_cast<const char*>(data), len);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, [](nghttp2_session*, int32_t id, uint32_t code, void* self) {
          auto& answer = static_cast<Client*>(self)->answers[id];
          answer.closed = true;
          answer.reset = code;
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, [](nghttp2_session*, const nghttp2_frame* frame, void* self) {
      auto* client = static_cast<Client*>(self);
      if (frame->hd.type == NGHTTP2_GOAWAY) client->goaway = true;
      if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK))
        for (size_t i = 0; i < frame->settings.niv; ++i)
          if (frame->settings.iv[i].settings_id == NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
            client->max_streams = frame->settings.iv[i].value;
      return 0;
    });
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    nghttp2_option_set_no_auto_window_update(option, 1);
    // Sends what the test says, even what a well-behaved client would not.
    nghttp2_option_set_no_http_messaging(option, 1);
    nghttp2_session_client_new2(&session_, cb, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(cb);
    const nghttp2_settings_entry iv{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, &iv, 1);
    asio::co_spawn(io, pump(), asio::detached);
  }
  ~Client() {
    std::error_code ignored;
    socket_.close(ignored);
    nghttp2_session_del(session_);
  }

  using Fields = std::vector<std::pair<std::string, std::string>>;
  static Fields get_fields(const std::string& path) {
    return {{":method", "GET"}, {":scheme", "http"}, {":authority", "gw.example"}, {":path", path}};
  }

  // A request; `body` (if any) goes in DATA frames after it.
  int32_t request(const Fields& fields, const std::string* body = nullptr, const Fields* trailers = nullptr) {
    std::vector<nghttp2_nv> nv;
    for (const auto& [n, v] : fields)
      nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    nghttp2_data_provider provider{};
    provider.source.ptr = const_cast<std::string*>(body);
    provider.read_callback = [](nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                                nghttp2_data_source* source, void* self) -> ssize_t {
      auto* b = static_cast<std::string*>(source->ptr);
      size_t& offset = static_cast<Client*>(self)->sent_[id];
      const size_t n = std::min(length, b->size() - offset);
      std::memcpy(buf, b->data() + offset, n);
      offset += n;
      if (offset == b->size()) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        auto* client = static_cast<Client*>(self);
        if (const Fields* t = client->trailers_[id]) {
          std::vector<nghttp2_nv> tv;
          for (const auto& [tn, tval] : *t)
            tv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(tn.data())),
                          reinterpret_cast<uint8_t*>(const_cast<char*>(tval.data())), tn.size(), tval.size(),
                          NGHTTP2_NV_FLAG_NONE});
          nghttp2_submit_trailer(client->session_, id, tv.data(), tv.size());
          *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
      }
      return static_cast<ssize_t>(n);
    };
    const int32_t id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), body ? &provider : nullptr, nullptr);
    answers[id];
    trailers_[id] = trailers;
    kick();
    return id;
  }
  // Lets the server send `n` more bytes on stream `id` (and on the connection).
  void open_window(int32_t id, int32_t n) {
    nghttp2_submit_window_update(session_, NGHTTP2_FLAG_NONE, id, n);
    nghttp2_submit_window_update(session_, NGHTTP2_FLAG_NONE, 0, n);
    kick();
  }
  void consume_all(int32_t id) {
    nghttp2_session_consume(session_, id, answers[id].body.size() - consumed_[id]);
    consumed_[id] = answers[id].body.size();
    kick();
  }
  void send_raw(std::string bytes) {
    raw_ += bytes;
    kick();
  }
  void kick() { wake_.cancel(); }

  std::map<int32_t, Answer> answers;
  bool goaway = false;
  bool eof = false;
  uint32_t max_streams = 0;

 private:
  asio::awaitable<void> pump() {
    asio::co_spawn(socket_.get_executor(), read_loop(), asio::detached);
    for (;;) {
      std::string out = std::move(raw_);
      raw_.clear();
      for (;;) {
        const uint8_t* data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(session_, &data);
        if (n <= 0) break;
        out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
      }
      if (!out.empty()) {
        auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out), kNoThrow);
        if (ec) co_return;
        continue;
      }
      wake_.expires_after(50ms);
      co_await wake_.async_wait(kNoThrow);
      if (!socket_.is_open()) co_return;
    }
  }
  asio::awaitable<void> read_loop() {
    std::vector<char> buffer(64 * 1024);
    for (;;) {
      auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buffer), kNoThrow);
      if (ec) {
        eof = true;
        co_return;
      }
      nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(buffer.data()), n);
      kick();
    }
  }

  tcp::socket socket_;
  asio::steady_timer wake_{socket_.get_executor()};
  nghttp2_session* session_ = nullptr;
  std::string raw_;
  std::map<int32_t, size_t> sent_;
  std::map<int32_t, size_t> consumed_;
  std::map<int32_t, const Fields*> trailers_;
};

constexpr std::string_view kRoutes = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: s1, port: 80}]
)";

std::string slice(uint16_t port) {
  return "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
         "metadata: {name: s1-a, namespace: ns, labels: {kubernetes.io/service-name: s1}}\naddressType: IPv4\n"
         "ports: [{name: http, port: " + std::to_string(port) + "}]\nendpoints: [{addresses: [127.0.0.1]}]\n";
}

class Http2SessionTest : public ::testing::Test {
 protected:
  Http2SessionTest() {
    mirror_context_ =
        std::make_unique<mirror::MirrorContext>(io_, mirror_options_, options_.limits, stats_, log_, mirror_balancer_);
    context_.reset(new SessionContext{options_, table_, clusters_, log_, {pool_, balancer_, stats_}, *mirror_context_,
                                      draining_, in_flight_, idle_});
  }
  ~Http2SessionTest() override {
    pool_.clear();
    mirror_context_->pool.clear();
  }

  // A gateway listener on loopback that serves every connection with serve_http2, and a backend.
  void start(std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello") {
    backend_.emplace(io_, std::move(reply));
    const std::string yaml =
        test::join_docs({test::kGatewayClass, test::kGateway, test::kService, kRoutes, slice(backend_->port())});
    const config::ObjectSet objects = config::load_string(yaml, "test.yaml");
    table_ = route::translate(objects);
    clusters_ = route::build_cluster_set(*table_, objects);
    ASSERT_EQ(table_->listeners.size(), 1u);
    const auto& only = table_->listeners.front();
    endpoint_ = std::make_shared<const ListenerEndpoint>(ListenerEndpoint{only.address, only.port});
    gateway_.emplace(io_, [this](test::LoopbackServer::Socket s) { return serve(s); });
  }
  asio::awaitable<void> serve(test::LoopbackServer::Socket socket) {
    ++sessions_;
    net::ClientStream stream(std::move(*socket));
    net::SocketWatchdog watchdog(stream.lowest_layer());
    ListenerSlot slot(endpoint_);
    co_await serve_http2(*context_, stream, watchdog, slot, {});
    --sessions_;
  }
  Backend& backend() { return *backend_; }

  void run_until(const std::function<bool()>& condition, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition() && std::chrono::steady_clock::now() < deadline) {
      if (io_.stopped()) io_.restart();
      io_.run_one_for(10ms);
    }
  }
  std::unique_ptr<Client> client(uint32_t window = 65535) {
    return std::make_unique<Client>(io_, gateway_->port(), window);
  }
  Answer& finished(Client& c, int32_t id) {
    run_until([&] { return c.answers[id].closed; });
    EXPECT_TRUE(c.answers[id].closed) << "stream " << id << " did not end";
    return c.answers[id];
  }

  stats::WorkerStats stats_;
  stats::AccessLog log_{"off"};
  upstream::LoadBalancer balancer_, mirror_balancer_;
  upstream::ConnectionPool pool_;
  SessionOptions options_;
  mirror::MirrorOptions mirror_options_;
  std::shared_ptr<const route::RouteTable> table_;
  std::shared_ptr<const route::ClusterSet> clusters_;
  std::atomic<bool> draining_{false};
  std::atomic<int> in_flight_{0};
  IdleSessions idle_;
  std::unique_ptr<mirror::MirrorContext> mirror_context_;
  std::unique_ptr<SessionContext> context_;
  asio::io_context io_;
  std::shared_ptr<const ListenerEndpoint> endpoint_;
  std::optional<Backend> backend_;
  std::optional<test::LoopbackServer> gateway_;
  int sessions_ = 0;
};

TEST_F(Http2SessionTest, GetIsForwardedAsHttp11AndAnsweredInFrames) {
  start("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-From: s1\r\nConnection: keep-alive\r\n\r\nhello");
  auto c = client();
  auto fields = Client::get_fields("/a?b=1");
  fields.push_back({"cookie", "a=1"});
  fields.push_back({"cookie", "b=2"});
  fields.push_back({"x-request-id", "rid-h2"});
  const int32_t id = c->request(fields);
  const Answer& answer = finished(*c, id);
  EXPECT_EQ(answer.reset, 0u);
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, "hello");
  EXPECT_EQ(answer.headers.at("x-from"), "s1");
  EXPECT_EQ(answer.headers.at("content-length"), "5");
  EXPECT_EQ(answer.headers.count("connection"), 0u);
  EXPECT_EQ(answer.headers.at("x-request-id"), "rid-h2");
  ASSERT_EQ(backend().requests.size(), 1u);
  const std::string& sent = backend().requests[0];
  EXPECT_TRUE(sent.starts_with("GET /a?b=1 HTTP/1.1\r\n")) << sent;
  EXPECT_NE(sent.find("Host: gw.example\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("cookie: a=1; b=2\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("X-Request-Id: rid-h2\r\n"), std::string::npos) << sent;
  EXPECT_EQ(sent.find("Transfer-Encoding"), std::string::npos) << sent;
  EXPECT_EQ(sent.find("Content-Length"), std::string::npos) << sent;
}

TEST_F(Http2SessionTest, PostBodyGoesUpstreamWithItsLength) {
  start("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  auto c = client();
  auto fields = Client::get_fields("/upload");
  fields[0].second = "POST";
  fields.push_back({"content-length", "100000"});
  const std::string body(100000, 'b');
  const int32_t id = c->request(fields, &body);
  const Answer& answer = finished(*c, id);
  EXPECT_EQ(answer.reset, 0u);
  EXPECT_EQ(answer.status, 201);
  EXPECT_EQ(answer.body, "abcde");  // the chunks decoded into DATA
  EXPECT_EQ(answer.headers.count("transfer-encoding"), 0u);
  ASSERT_EQ(backend().requests.size(), 1u);
  EXPECT_NE(backend().requests[0].find("Content-Length: 100000\r\n"), std::string::npos);
  EXPECT_TRUE(backend().requests[0].ends_with(body));
}

TEST_F(Http2SessionTest, ChunkedResponseTrailersBecomeATrailerHeadersFrame) {
  start("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: grpc-status\r\n\r\n"
        "2\r\nok\r\n0\r\nGrpc-Status: 0\r\nGrpc-Message:  fine \r\nContent-Length: 9\r\n\r\n");
  auto c = client();
  const Answer& answer = finished(*c, c->request(Client::get_fields("/grpc")));
  EXPECT_EQ(answer.reset, 0u);
  EXPECT_EQ(answer.body, "ok");
  EXPECT_EQ(answer.headers.at("grpc-status"), "0");
  EXPECT_EQ(answer.headers.at("grpc-message"), "fine");
  EXPECT_EQ(answer.headers.count("content-length"), 0u);  // not a trailer field
  EXPECT_EQ(answer.headers.count("trailer"), 0u);         // connection-specific in HTTP/2
}

TEST_F(Http2SessionTest, RequestTrailersGoUpstreamInTheChunkedTrailerSection) {
  start();
  auto c = client();
  auto fields = Client::get_fields("/upload");
  fields[0].second = "POST";
  const std::string body = "payload";
  const Client::Fields trailers{{"x-checksum", "42"}, {"grpc-timeout", "1S"}};
  EXPECT_EQ(finished(*c, c->request(fields, &body, &trailers)).status, 200);
  ASSERT_EQ(backend().requests.size(), 1u);
  const std::string& sent = backend().requests[0];
  EXPECT_NE(sent.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << sent;
  EXPECT_TRUE(sent.ends_with("7\r\npayload\r\n0\r\nx-checksum: 42\r\ngrpc-timeout: 1S\r\n\r\n")) << sent;
}

TEST_F(Http2SessionTest, BodyWithoutLengthGoesUpstreamChunked) {
  start();
  auto c = client();
  auto fields = Client::get_fields("/upload");
  fields[0].second = "PUT";
  // More than one window: the stream waits for the upstream write while more DATA arrive. Every byte
  // differs from its neighbours, so a piece lost, repeated or reordered on the way shows.
  std::string body(70000, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  const int32_t id = c->request(fields, &body);
  const Answer& answer = finished(*c, id);
  EXPECT_EQ(answer.status, 200);
  ASSERT_EQ(backend().requests.size(), 1u);
  const std::string& sent = backend().requests[0];
  ASSERT_NE(sent.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_TRUE(sent.ends_with("\r\n0\r\n\r\n"));
  std::string decoded;  // the chunks, decoded
  for (size_t at = sent.find("\r\n\r\n") + 4;;) {
    const size_t line_end = sent.find("\r\n", at);
    ASSERT_NE(line_end, std::string::npos);
    const size_t size = std::stoul(sent.substr(at, line_end - at), nullptr, 16);
    if (size == 0) break;
    decoded += sent.substr(line_end + 2, size);
    at = line_end + 2 + size + 2;
  }
  EXPECT_TRUE(decoded == body) << "decoded " << decoded.size() << " bytes of " << body.size();
}

TEST_F(Http2SessionTest, ClosedWindowHoldsTheUpstreamReadBack) {
  start();
  backend().body_bytes = 64u << 20;  // far more than the socket buffers between backend and gateway
  auto c = client(16 * 1024);
  const int32_t id = c->request(Client::get_fields("/big"));
  run_until([&] { return c->answers[id].body.size() >= 16 * 1024; });
  EXPECT_EQ(c->answers[id].status, 200);
  // Stalled: the client's window is spent; what the backend wrote stays near buffers and one high water.
  run_until([] { return false; }, 300ms);
  const size_t stalled = backend().written;
  EXPECT_LT(stalled, 24u << 20) << "the gateway read the upstream ahead of the client";
  run_until([] { return false; }, 200ms);
  EXPECT_EQ(backend().written, stalled);
  // Opening the window lets the rest through.
  while (!c->answers[id].closed && c->answers[id].body.size() < backend().body_bytes) {
    const size_t before = c->answers[id].body.size();
    c->consume_all(id);
    c->open_window(id, 8 << 20);
    run_until([&] { return c->answers[id].body.size() > before + (4 << 20) || c->answers[id].closed; }, 2s);
    if (c->answers[id].body.size() == before) break;
  }
  finished(*c, id);
  EXPECT_EQ(c->answers[id].body.size(), backend().body_bytes);
  EXPECT_EQ(c->answers[id].reset, 0u);
}

TEST_F(Http2SessionTest, StreamsBeyondTheLimitAreRefused) {
  options_.http2_max_concurrent_streams = 2;
  start();
  backend().body_bytes = 8u << 20;  // each answer stays open while the client's window is closed
  auto c = client(1024);
  std::vector<int32_t> ids;
  // Sent before the client has read the server's SETTINGS: the third is over the limit.
  for (int i = 0; i < 3; ++i) ids.push_back(c->request(Client::get_fields("/s" + std::to_string(i))));
  run_until([&] { return c->answers[ids[2]].closed; });
  EXPECT_EQ(c->max_streams, 2u);
  EXPECT_TRUE(c->answers[ids[2]].closed);
  EXPECT_EQ(c->answers[ids[2]].reset, static_cast<uint32_t>(NGHTTP2_REFUSED_STREAM));
  EXPECT_FALSE(c->answers[ids[0]].closed);
  run_until([&] { return backend().requests.size() == 2; });
  EXPECT_LE(backend().requests.size(), 2u);
}

TEST_F(Http2SessionTest, MalformedRequestsAreStreamErrors) {
  start();
  auto c = client();
  struct Case {
    const char* why;
    Client::Fields fields;
  };
  // (An uppercase name cannot be sent from here: nghttp2's client lowercases names. h2spec 8.1.2 sends one.)
  const std::vector<Case> cases = {
      {"no :path", {{":method", "GET"}, {":scheme", "http"}, {":authority", "gw.example"}}},
      {"unknown pseudo-header", {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":bogus", "1"}}},
      {"pseudo after regular", {{":method", "GET"}, {":scheme", "http"}, {"x-a", "1"}, {":path", "/"}}},
      {"connection", {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"connection", "close"}}},
      {"transfer-encoding", {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"transfer-encoding", "chunked"}}},
      {"keep-alive", {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"keep-alive", "5"}}},
      {"upgrade", {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"upgrade", "h2c"}}},
      {"te gzip", {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {"te", "gzip"}}},
  };
  for (const auto& k : cases) {
    auto fields = k.fields;
    if (k.fields[2].first != ":authority") fields.push_back({"host", "gw.example"});
    const int32_t id = c->request(fields);
    const Answer& answer = finished(*c, id);
    EXPECT_EQ(answer.reset, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR)) << k.why;
    EXPECT_EQ(answer.status, 0) << k.why;
  }
  // TE: trailers is the one TE allowed.
  auto fields = Client::get_fields("/");
  fields.push_back({"te", "trailers"});
  EXPECT_EQ(finished(*c, c->request(fields)).status, 200);
  EXPECT_EQ(backend().requests.size(), 1u);
}

TEST_F(Http2SessionTest, ContentLengthMustMatchTheData) {
  start();
  auto c = client();
  auto fields = Client::get_fields("/upload");
  fields[0].second = "POST";
  fields.push_back({"content-length", "10"});
  const std::string body = "short";
  const Answer& answer = finished(*c, c->request(fields, &body));
  EXPECT_EQ(answer.reset, static_cast<uint32_t>(NGHTTP2_PROTOCOL_ERROR));
  EXPECT_NE(answer.status, 200);
}

TEST_F(Http2SessionTest, BodiesLeftUnreadDoNotExhaustTheConnectionWindow) {
  options_.max_request_body = 1000;
  start();
  auto c = client();
  auto fields = Client::get_fields("/upload");
  fields[0].second = "POST";
  fields.push_back({"content-length", "200000"});
  const std::string body(200000, 'z');
  // Answered 413 before their bodies are read: each stream's window of body (64 KiB) still arrives, 1.3 MB
  // in all, more than the 1 MiB connection window.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(finished(*c, c->request(fields, &body)).status, 413) << i;
  options_.max_request_body = 0;
  EXPECT_EQ(finished(*c, c->request(fields, &body)).status, 200);
  ASSERT_EQ(backend().requests.size(), 1u);
  EXPECT_TRUE(backend().requests[0].ends_with(body));
}

TEST_F(Http2SessionTest, OversizedHeaderListIs431) {
  options_.limits.max_header_bytes = 4096;
  start();
  auto c = client();
  auto fields = Client::get_fields("/");
  for (int i = 0; i < 20; ++i) fields.push_back({"x-big-" + std::to_string(i), std::string(400, 'v')});
  const Answer& answer = finished(*c, c->request(fields));
  EXPECT_EQ(answer.status, 431);
  EXPECT_TRUE(backend().requests.empty());
}

TEST_F(Http2SessionTest, HostThatDiffersFromAuthorityIs400AndConnectIs501) {
  start();
  auto c = client();
  auto fields = Client::get_fields("/");
  fields.push_back({"host", "other.example"});
  EXPECT_EQ(finished(*c, c->request(fields)).status, 400);
  const Client::Fields connect{{":method", "CONNECT"}, {":authority", "gw.example:443"}};
  EXPECT_EQ(finished(*c, c->request(connect)).status, 501);
  EXPECT_TRUE(backend().requests.empty());
}

TEST_F(Http2SessionTest, UnfinishedHeaderBlockIsCutOffAtTheHeaderTimeout) {
  options_.header_timeout = 1s;
  start();
  auto c = client();
  run_until([&] { return c->max_streams != 0; });
  // HEADERS without END_HEADERS, and no CONTINUATION ever: a slowloris head.
  const std::string block = std::string("\x82\x86\x84", 3);  // :method GET, :scheme http, :path /
  std::string frame = {0, 0, static_cast<char>(block.size()), 1, 0, 0, 0, 0, 1};
  c->send_raw(frame + block);
  run_until([&] { return c->eof; }, 4s);
  EXPECT_TRUE(c->goaway);
  EXPECT_TRUE(c->eof);
  run_until([&] { return sessions_ == 0; });
  EXPECT_EQ(sessions_, 0);
}

TEST_F(Http2SessionTest, ReloadThatRemovesTheListenerSendsGoaway) {
  start();
  auto c = client();
  EXPECT_EQ(finished(*c, c->request(Client::get_fields("/"))).status, 200);
  table_ = std::make_shared<const route::RouteTable>();  // the Gateway went away
  run_until([&] { return c->goaway && c->eof; }, 3s);
  EXPECT_TRUE(c->goaway);
  EXPECT_TRUE(c->eof);
}

TEST_F(Http2SessionTest, DrainSendsGoawayAndTheSessionEnds) {
  start();
  auto c = client();
  EXPECT_EQ(finished(*c, c->request(Client::get_fields("/"))).status, 200);
  draining_ = true;
  run_until([&] { return c->goaway && c->eof; }, 3s);
  EXPECT_TRUE(c->goaway);
  EXPECT_TRUE(c->eof);
  run_until([&] { return sessions_ == 0; });
  EXPECT_EQ(sessions_, 0);
  EXPECT_EQ(in_flight_.load(), 0);
}

}  // namespace
}  // namespace mg::proxy
