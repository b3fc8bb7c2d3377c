#include "echo/server.h"

#include <unistd.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <optional>
#include <thread>
#include <vector>

#include "echo/go_duration.h"
#include "echo/h2c_session.h"
#include "echo/response.h"
#include "echo/retry_simulator.h"
#include "echo/router.h"
#include "echo/websocket_echo.h"
#include "echo/websocket_handshake.h"
#include "http/chunked.h"
#include "http/parser.h"
#include "net/exclusive_port.h"

namespace mg::echo {
namespace {

using asio::ip::tcp;
using std::chrono::nanoseconds;
// Errors come back as values: hostile or vanishing clients are the normal case on the data path.
constexpr auto kAwait = asio::experimental::as_tuple(asio::use_awaitable);
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

constexpr size_t kInitialBuffer = 16 * 1024;
constexpr size_t kMaxBuffer = 128 * 1024;      // above the parser's head limits, so it reports 414/431 first
constexpr size_t kFlushThreshold = 64 * 1024;  // pipelined answers are batched up to this much
constexpr auto kLingerTimeout = std::chrono::milliseconds(500);
constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";  // RFC 9113 3.4
// A /retry/ request waiting for the process-wide lock polls at this period (see RetrySimulator).
constexpr auto kRetryLockPoll = std::chrono::microseconds(500);

void write_stdout(std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // stdout gone: nothing sensible to do, keep serving
    }
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// Go's RemoteAddr: ip:port, [v6]:port, and IPv4 clients of a dual-stack socket shown as plain IPv4.
std::string format_peer(const tcp::endpoint& ep) {
  asio::ip::address addr = ep.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  std::string s = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
  return s + ":" + std::to_string(ep.port());
}

struct Shared {
  const ServerOptions& options;
  RetrySimulator retry;
  http::Limits limits;
};

struct Worker {
  asio::io_context ctx{1};
  tcp::acceptor acceptor{ctx};
  tcp::acceptor h2c_acceptor{ctx};  // the h2c port's, open when it is served
  // Log lines of this worker not yet written. Flushed before any socket write or sleep, so a line is out
  // before its request is answered (and before a `delay`), yet pipelined bursts cost one write(2).
  std::string log;
  std::thread thread;

  void flush_log() {
    if (log.empty()) return;
    write_stdout(log);
    log.clear();
  }
};

class RetryLockGuard {
 public:
  explicit RetryLockGuard(RetrySimulator& sim) : sim_(sim) {}
  ~RetryLockGuard() { sim_.unlock(); }
  RetryLockGuard(const RetryLockGuard&) = delete;
  RetryLockGuard& operator=(const RetryLockGuard&) = delete;

 private:
  RetrySimulator& sim_;
};

class Session {
 public:
  Session(tcp::socket socket, Shared& shared, Worker& worker, bool h2c_port)
      : socket_(std::move(socket)), shared_(shared), worker_(worker), h2c_port_(h2c_port), in_(kInitialBuffer, '\0') {
    asio::error_code ec;
    auto peer = socket_.remote_endpoint(ec);
    peer_ = ec ? std::string("unknown") : format_peer(peer);
  }

  asio::awaitable<void> run() {
    if (h2c_port_) {
      // The h2c port speaks HTTP/2 to a client that opens with the preface, HTTP/1.1 to the others.
      while (buffered().size() < kPreface.size() && kPreface.starts_with(buffered()))
        if (!co_await read_more()) co_return;
      if (buffered().starts_with(kPreface)) {
        co_await serve_h2c(socket_, std::string(buffered()), [this](const auto& request, auto& fields, auto& body) {
          answer_h2(request, fields, body);
        });
        co_return;
      }
    }
    for (;;) {
      for (;;) {
        http::ParseResult r = http::parse_request_head(buffered(), shared_.limits, head_);
        if (r.status == http::ParseStatus::kIncomplete) break;
        if (r.status == http::ParseStatus::kError) {
          append_parse_error(r);
          co_await flush();
          co_await graceful_close();
          co_return;
        }
        Next next = co_await handle();
        if (next == Next::kDrop) {
          co_await flush();
          co_return;  // the socket closes with the session
        }
        if (next == Next::kReset) co_return;
        begin_ += head_.head_length;
        if (next == Next::kClose) {
          co_await flush();
          co_await graceful_close();
          co_return;
        }
        if (!co_await discard_body()) {
          co_await flush();
          co_return;
        }
        if (out_.size() >= kFlushThreshold && !co_await flush()) co_return;
      }
      if (!co_await flush()) co_return;
      if (!co_await read_more()) co_return;
    }
  }

 private:
  enum class Next : uint8_t { kContinue, kClose, kDrop, kReset };

  std::string_view buffered() const { return {in_.data() + begin_, end_ - begin_}; }

  bool keep_alive() const {
    // Go does not reuse a connection whose client waits for a 100 Continue it never got.
    return head_.keep_alive && !(head_.expect_continue && head_.framing != http::BodyFraming::kNone);
  }

  ResponseSpec base_spec(int status) const {
    ResponseSpec spec;
    spec.status = status;
    spec.minor_version = head_.minor_version;
    spec.keep_alive = keep_alive();
    spec.head_request = head_.method == "HEAD";
    return spec;
  }

  void append_parse_error(const http::ParseResult& r) {
    body_ =
        std::to_string(r.error_status) + " " + status_line_text(r.error_status) + ": " + std::string(r.error);
    ResponseSpec spec;
    spec.status = r.error_status;
    spec.keep_alive = false;
    spec.content_type = "text/plain; charset=utf-8";
    spec.body = body_;
    append_response(out_, spec);
  }

  // Go's http.Error: text/plain, nosniff, the message and a newline.
  void append_text_error(int status, std::string_view message) {
    body_.assign(message);
    body_.push_back('\n');
    ResponseSpec spec = base_spec(status);
    spec.content_type = "text/plain; charset=utf-8";
    spec.nosniff = true;
    spec.body = body_;
    append_response(out_, spec);
  }

  void append_json_error(std::string_view message) {
    body_.clear();
    append_error_json(body_, message);
    ResponseSpec spec = base_spec(500);
    spec.content_type = "application/json";
    spec.nosniff = true;
    spec.body = body_;
    append_response(out_, spec);
  }

  void append_empty(int status) {
    ResponseSpec spec = base_spec(status);
    append_response(out_, spec);
  }

  // A bare status of the /status/ and failing /retry/ handlers, with Go's handling of odd codes.
  Next append_status(int code) {
    if (code < 100 || code > 999) {
      // Go's WriteHeader panics; net/http logs it and drops the connection without an answer.
      std::fprintf(stderr, "http: panic serving %s: invalid WriteHeader code %d\n", peer_.c_str(), code);
      return Next::kDrop;
    }
    if (code < 200 && code != 101) {
      // Go sends 1xx as an interim answer, then the final 200 once the handler returns.
      append_empty(code);
      append_empty(200);
      return keep_alive() ? Next::kContinue : Next::kClose;
    }
    append_empty(code);
    if (code == 101) return Next::kClose;  // the client now expects another protocol
    return keep_alive() ? Next::kContinue : Next::kClose;
  }

  asio::awaitable<Next> handle() {
    if (h2c_port_) {
      // No router on this port; Go's h2c handler wants HTTP/2 or the h2c upgrade token (which it then
      // does not perform: the request is echoed over HTTP/1.1).
      if (http::find_header(head_.headers, "upgrade") != "h2c") {
        append_text_error(400, "Expected h2c request");
        co_return keep_alive() ? Next::kContinue : Next::kClose;
      }
      co_return co_await echo();
    }
    Route route = route_request(head_.method, head_.target, scratch_);
    Next done = keep_alive() ? Next::kContinue : Next::kClose;
    switch (route.kind) {
      case RouteKind::kBadRequest: {
        ResponseSpec spec = base_spec(400);
        spec.keep_alive = false;
        spec.content_type = "text/plain; charset=utf-8";
        spec.body = "400 Bad Request";
        append_response(out_, spec);
        co_return Next::kClose;
      }
      case RouteKind::kOptionsStar:
        append_empty(200);
        co_return done;
      case RouteKind::kHealth: {
        ResponseSpec spec = base_spec(200);
        spec.content_type = "text/plain; charset=utf-8";
        spec.body = "OK";
        append_response(out_, spec);
        co_return done;
      }
      case RouteKind::kRedirect: {
        // Go's http.Redirect: an HTML link for GET, the type but no body for HEAD, nothing else otherwise.
        ResponseSpec spec = base_spec(301);
        spec.location = route.location;
        if (head_.method == "GET" || head_.method == "HEAD") {
          spec.content_type = "text/html; charset=utf-8";
          if (head_.method == "GET") {
            body_ = "<a href=\"";
            for (char c : route.location) {
              switch (c) {
                case '<':
                  body_ += "&lt;";
                  break;
                case '>':
                  body_ += "&gt;";
                  break;
                case '&':
                  body_ += "&amp;";
                  break;
                case '\'':
                  body_ += "&#39;";
                  break;
                case '"':
                  body_ += "&#34;";
                  break;
                default:
                  body_.push_back(c);
              }
            }
            body_ += "\">Moved Permanently</a>.\n\n";
            spec.body = body_;
          }
        }
        append_response(out_, spec);
        co_return done;
      }
      case RouteKind::kStatus:
        if (route.status_code < 0) {
          append_empty(400);
          co_return done;
        }
        co_return append_status(route.status_code);
      case RouteKind::kWebSocket:
        co_return co_await websocket();
      case RouteKind::kRetry:
        co_return co_await retry();
      case RouteKind::kEcho:
        co_return co_await echo();
    }
    co_return done;
  }

  asio::awaitable<Next> echo() {
    std::string_view target = head_.target;
    log_echo(target);

    nanoseconds delay = shared_.options.extra_delay;
    if (auto value = query_value(target_query(target), "delay"); value && !value->empty()) {
      DurationResult d = parse_go_duration(*value);
      if (!d.ok) {
        append_json_error(d.error);
        co_return keep_alive() ? Next::kContinue : Next::kClose;
      }
      if (d.value > nanoseconds::zero()) delay += d.value;
    }
    if (delay > nanoseconds::zero()) {
      if (!co_await flush()) co_return Next::kDrop;
      co_await sleep(delay);
    }

    body_.clear();
    EchoRequest request;
    request.target = target;
    request.host = head_.host;
    request.method = head_.method;
    request.minor_version = head_.minor_version;
    request.headers = head_.headers;
    request.chunked = head_.framing == http::BodyFraming::kChunked;
    json_.append(body_, request, shared_.options.env);

    parse_echo_set_headers(head_.headers, set_headers_);
    ResponseSpec spec = base_spec(200);
    spec.extra_headers = set_headers_;
    spec.content_type = "application/json";
    spec.nosniff = true;
    spec.body = body_;
    append_response(out_, spec);
    co_return keep_alive() ? Next::kContinue : Next::kClose;
  }

  void log_echo(std::string_view target) {
    worker_.log += "Echoing back request made to ";
    worker_.log += target;
    worker_.log += " to client (";
    worker_.log += peer_;
    worker_.log += ")\n";
  }

  // One HTTP/2 request of the h2c port, echoed (no `delay`: the answer is built at once).
  void answer_h2(const http::Http2Stream& request, std::vector<http::Http2Field>& fields, std::string& body) {
    log_echo(request.path);
    worker_.flush_log();
    h2_headers_.clear();
    for (const auto& f : request.fields) h2_headers_.push_back({f.name, f.value});
    EchoRequest echo;
    echo.target = request.path;
    echo.host = request.authority.empty() ? std::string_view(request.host) : std::string_view(request.authority);
    echo.method = request.method;
    echo.major_version = 2;
    echo.minor_version = 0;
    echo.headers = h2_headers_;
    json_.append(body, echo, shared_.options.env);
    parse_echo_set_headers(h2_headers_, set_headers_);
    fields.push_back({":status", "200"});
    for (const auto& h : set_headers_) {
      std::string name(h.name);
      for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);  // HTTP/2 names are lower case
      fields.push_back({std::move(name), h.value});
    }
    fields.push_back({"content-type", "application/json"});
    fields.push_back({"x-content-type-options", "nosniff"});
    fields.push_back({"date", std::string(cached_http_date())});
    fields.push_back({"content-length", std::to_string(body.size())});
  }

  // The connection is the WebSocket's from here: answered and closed, or upgraded and echoed until its end.
  asio::awaitable<Next> websocket() {
    const WebSocketHandshake handshake = decide_websocket_handshake(head_);
    out_ += websocket_handshake_answer(handshake);
    if (handshake.status != 101) co_return Next::kClose;
    worker_.log += "established websocket connection ";
    worker_.log += handshake.origin;
    worker_.log += "\n";
    if (!co_await flush()) co_return Next::kReset;
    std::string pending(buffered().substr(head_.head_length));
    co_await echo_websocket(socket_, std::move(pending));
    co_return Next::kReset;
  }

  asio::awaitable<Next> retry() {
    std::string error;
    std::optional<RetryParams> params = parse_retry_params(target_query(head_.target), error);
    if (!params) {
      append_text_error(400, error);
      co_return keep_alive() ? Next::kContinue : Next::kClose;
    }
    // Earlier pipelined answers must not wait behind the lock.
    if (!co_await flush()) co_return Next::kDrop;
    while (!shared_.retry.try_lock()) co_await sleep(kRetryLockPoll);
    RetryLockGuard guard(shared_.retry);

    if (!shared_.retry.record_attempt(params->uuid, params->succeed_after)) co_return co_await echo();

    if (params->delay_retry) {
      DurationResult d = parse_go_duration(*params->delay_retry);
      if (!d.ok) {
        append_json_error(d.error);
        co_return keep_alive() ? Next::kContinue : Next::kClose;
      }
      if (d.value > nanoseconds::zero()) co_await sleep(d.value);
    }
    if (params->response_code) {
      int64_t code = *params->response_code;
      co_return append_status(code < 0 || code > 999 ? -1 : static_cast<int>(code));
    }
    // RST mode: linger {on, 0} turns close() into an abortive close.
    asio::error_code ec;
    socket_.set_option(asio::socket_base::linger(true, 0), ec);
    socket_.close(ec);
    co_return Next::kReset;
  }

  // Reads and drops the body of the request just answered, so the next request starts in sync.
  asio::awaitable<bool> discard_body() {
    if (head_.framing == http::BodyFraming::kContentLength) {
      uint64_t remaining = head_.content_length;
      for (;;) {
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, end_ - begin_));
        begin_ += take;
        remaining -= take;
        if (remaining == 0) co_return true;
        if (!co_await flush() || !co_await read_more()) co_return false;
      }
    }
    if (head_.framing == http::BodyFraming::kChunked) {
      chunked_.reset();
      for (;;) {
        size_t consumed = 0;
        std::string_view data;
        auto status = chunked_.next(buffered(), consumed, data);
        begin_ += consumed;
        if (status == http::ChunkedDecoder::Status::kDone) co_return true;
        if (status == http::ChunkedDecoder::Status::kError) co_return false;
        if (status == http::ChunkedDecoder::Status::kNeedMore) {
          if (!co_await flush() || !co_await read_more()) co_return false;
        }
      }
    }
    co_return true;
  }

  asio::awaitable<bool> flush() {
    worker_.flush_log();
    if (out_.empty()) co_return true;
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out_), kAwait);
    (void)n;
    out_.clear();
    co_return !ec;
  }

  // Appends whatever the socket has to the buffer. False on EOF or error.
  asio::awaitable<bool> read_more() {
    if (begin_ == end_) begin_ = end_ = 0;
    if (end_ == in_.size()) {
      if (begin_ > 0) {
        std::copy(in_.begin() + static_cast<std::ptrdiff_t>(begin_),
                  in_.begin() + static_cast<std::ptrdiff_t>(end_), in_.begin());
        end_ -= begin_;
        begin_ = 0;
      } else if (in_.size() < kMaxBuffer) {
        in_.resize(std::min(in_.size() * 2, kMaxBuffer));
      } else {
        co_return false;  // unreachable while the parser's limits are below kMaxBuffer
      }
    }
    auto [ec, n] =
        co_await socket_.async_read_some(asio::buffer(in_.data() + end_, in_.size() - end_), kAwait);
    if (ec) co_return false;
    end_ += n;
    co_return true;
  }

  asio::awaitable<void> sleep(nanoseconds d) {
    asio::steady_timer timer(socket_.get_executor());
    timer.expires_after(d);
    co_await timer.async_wait(kAwait);
  }

  // Half-close and drain for a moment, so the client reads our last answer instead of a reset caused by
  // unread bytes (what Go's closeWriteAndWait does too).
  asio::awaitable<void> graceful_close() {
    asio::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    asio::steady_timer deadline(socket_.get_executor());
    deadline.expires_after(kLingerTimeout);
    deadline.async_wait([&socket = socket_](const asio::error_code& e) {
      asio::error_code ignored;
      if (!e) socket.cancel(ignored);
    });
    begin_ = end_ = 0;
    for (;;) {
      auto [rec, n] = co_await socket_.async_read_some(asio::buffer(in_), kAwait);
      (void)n;
      if (rec) break;
    }
    deadline.cancel();
    socket_.close(ec);
  }

  tcp::socket socket_;
  Shared& shared_;
  Worker& worker_;
  bool h2c_port_;  // accepted on the h2c port
  std::string peer_;
  std::string in_;
  size_t begin_ = 0, end_ = 0;
  std::string out_;
  std::string body_;
  std::string scratch_;
  http::RequestHead head_;
  http::ChunkedDecoder chunked_;
  EchoJsonWriter json_;
  std::vector<ResponseHeader> set_headers_;
  std::vector<http::Header> h2_headers_;
};

asio::awaitable<void> serve_connection(tcp::socket socket, Shared& shared, Worker& worker, bool h2c_port) {
  Session session(std::move(socket), shared, worker, h2c_port);
  co_await session.run();
}

asio::awaitable<void> accept_loop(Shared& shared, Worker& worker, tcp::acceptor& acceptor) {
  const bool h2c_port = &acceptor == &worker.h2c_acceptor;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kAwait);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // Typically EMFILE: back off instead of spinning; connections wait in the backlog meanwhile.
      asio::steady_timer pause(worker.ctx, std::chrono::milliseconds(10));
      co_await pause.async_wait(kAwait);
      continue;
    }
    asio::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(worker.ctx, serve_connection(std::move(socket), shared, worker, h2c_port), asio::detached);
  }
}

}  // namespace

bool parse_listen_address(std::string_view text, std::string& host, uint16_t& port) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view h = text.substr(0, colon);
  std::string_view p = text.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return false;  // a bare IPv6 address needs brackets
  }
  if (p.empty() || p.size() > 5) return false;
  uint32_t v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return false;
  asio::error_code ec;
  std::string host_text = h.empty() ? "0.0.0.0" : std::string(h);
  asio::ip::make_address(host_text, ec);
  if (ec) return false;
  host = host_text;
  port = static_cast<uint16_t>(v);
  return true;
}

struct Server::Impl {
  explicit Impl(ServerOptions o) : options(std::move(o)), shared{options, {}, {}} {}

  ServerOptions options;
  Shared shared;
  std::vector<std::unique_ptr<Worker>> workers;  // destroyed before `shared`, which sessions use
  uint16_t bound_port = 0;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() {
  stop();
  for (auto& w : impl_->workers)
    if (w->thread.joinable()) w->thread.join();
}

namespace {

// One worker's listening socket on address:port; an ephemeral port (0) becomes the one the kernel chose.
std::string open_acceptor(tcp::acceptor& acceptor, const asio::ip::address& address, uint16_t& port) {
  asio::error_code ec;
  tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return ec.message();
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  // One listening socket per worker: the kernel spreads connections, no accept lock, no hand-off.
  acceptor.set_option(ReusePort(true), ec);
  if (ec) return "SO_REUSEPORT: " + ec.message();
  if (address.is_v6() && address.to_v6().is_unspecified()) acceptor.set_option(asio::ip::v6_only(false), ec);
  acceptor.bind(endpoint, ec);
  if (ec) return ec.message();
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec.message();
  // An ephemeral port is chosen by the first bind; the other workers join it.
  if (port == 0) port = acceptor.local_endpoint(ec).port();
  return {};
}

}  // namespace

std::string Server::listen() {
  asio::error_code ec;
  asio::ip::address address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) return "invalid listen address " + impl_->options.host;
  uint16_t port = impl_->options.port;
  uint16_t h2c_port = impl_->options.h2c_port;
  const bool h2c = h2c_port != 0;
  unsigned threads = std::max(1u, impl_->options.threads);
  // Only this process's workers may share the port (net/exclusive_port.h).
  if (auto busy = net::probe_port_is_free({address, port})) return busy.message();
  if (h2c)
    if (auto busy = net::probe_port_is_free({address, h2c_port})) return "h2c port: " + busy.message();
  for (unsigned i = 0; i < threads; ++i) {
    auto worker = std::make_unique<Worker>();
    if (std::string error = open_acceptor(worker->acceptor, address, port); !error.empty()) return error;
    if (h2c)
      if (std::string error = open_acceptor(worker->h2c_acceptor, address, h2c_port); !error.empty())
        return "h2c port: " + error;
    impl_->workers.push_back(std::move(worker));
  }
  impl_->bound_port = port;
  return {};
}

uint16_t Server::port() const {
  return impl_->bound_port;
}

void Server::run() {
  for (auto& w : impl_->workers) {
    asio::co_spawn(w->ctx, accept_loop(impl_->shared, *w, w->acceptor), asio::detached);
    if (w->h2c_acceptor.is_open())
      asio::co_spawn(w->ctx, accept_loop(impl_->shared, *w, w->h2c_acceptor), asio::detached);
    w->thread = std::thread([worker = w.get()] {
      for (;;) {
        try {
          worker->ctx.run();
          return;
        } catch (const std::exception& e) {
          // Only allocation failures can get here; the worker keeps serving its other connections.
          std::fprintf(stderr, "mirrorgate-echo: worker error: %s\n", e.what());
        }
      }
    });
  }
  for (auto& w : impl_->workers) w->thread.join();
  for (auto& w : impl_->workers) w->flush_log();
}

void Server::stop() {
  for (auto& w : impl_->workers) w->ctx.stop();
}

}  // namespace mg::echo
