#pragma once
// TLS over a TCP socket, with OpenSSL reading and writing the socket itself (its socket BIO on the
// descriptor), as nginx and h2o do. Asio's ssl::stream runs every record through a memory BIO pair and
// two buffers of its own (17 KiB each way, per stream) and copies it twice; this copies nothing and holds
// nothing per stream beyond OpenSSL's own buffers (released while empty: SSL_MODE_RELEASE_BUFFERS).
//
// The operations are Asio async operations in readiness style: the SSL call is tried first (OpenSSL may
// hold decrypted bytes no readiness announces), and on WANT_READ / WANT_WRITE the socket is awaited
// and the call retried. Their errors are those of asio::ssl::stream: EOF for a close_notify,
// asio::ssl::error::stream_truncated for a TCP close without one, an ssl-category code for a protocol
// failure, the errno for a socket failure. One read and one write may be in flight at once (the HTTP/2
// session's read and write loops): each SSL call returns before the next starts, all on one thread.
//
// Closing or cancelling the socket (the watchdog) ends any operation waiting on it; an operation started
// on a closed socket fails with bad_descriptor and never touches a descriptor number reused since.
// The process must ignore SIGPIPE (OpenSSL writes with write(2); main() does).

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <system_error>
#include <type_traits>
#include <utility>

#include <asio/buffer.hpp>
#include <asio/compose.hpp>
#include <asio/error.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream_base.hpp>

namespace mg::net {

class TlsSocket {
 public:
  using executor_type = asio::ip::tcp::socket::executor_type;

  // TLS over `socket` (made non-blocking) with `context`'s SSL_CTX; throws std::system_error if OpenSSL
  // cannot make the SSL object (out of memory).
  TlsSocket(asio::ip::tcp::socket socket, asio::ssl::context& context);
  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  SSL* native_handle() const { return ssl_; }
  asio::ip::tcp::socket& next_layer() { return socket_; }
  const asio::ip::tcp::socket& next_layer() const { return socket_; }
  executor_type get_executor() { return socket_.get_executor(); }

  template <typename Token>
  auto async_handshake(asio::ssl::stream_base::handshake_type side, Token&& token) {
    if (side == asio::ssl::stream_base::client) {
      SSL_set_connect_state(ssl_);
    } else {
      SSL_set_accept_state(ssl_);
    }
    return run<void(std::error_code)>([](TlsSocket& s) { return s.handshake_step(); }, std::forward<Token>(token));
  }

  // Sends close_notify and waits for the peer's (or its close), as asio::ssl::stream does.
  template <typename Token>
  auto async_shutdown(Token&& token) {
    return run<void(std::error_code)>([](TlsSocket& s) { return s.shutdown_step(); }, std::forward<Token>(token));
  }

  // Reads into the first non-empty buffer (at most one record's worth, as SSL_read gives).
  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    const asio::mutable_buffer buffer = first_buffer<asio::mutable_buffer>(buffers);
    return run<void(std::error_code, size_t)>([buffer](TlsSocket& s) { return s.read_step(buffer); },
                                              std::forward<Token>(token));
  }

  // Writes the whole sequence, a record at a time (small buffers gathered into one), waiting whenever the
  // socket is full; so the operation never ends with a record half sent, which OpenSSL would require the
  // next call to retry exactly.
  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return run<void(std::error_code, size_t)>(
        [buffers, written = size_t{0}](TlsSocket& s) mutable {
          return s.write_step(asio::buffer_sequence_begin(buffers), asio::buffer_sequence_end(buffers), written);
        },
        std::forward<Token>(token));
  }

 private:
  // What one SSL call left to do: nothing (the operation is over, with `error` and `bytes`), or wait for
  // the socket to become readable or writable and call again.
  enum class Next { kDone, kWaitRead, kWaitWrite };
  struct Step {
    Next next = Next::kDone;
    std::error_code error;
    size_t bytes = 0;
  };

  template <typename Buffer, typename Buffers>
  static Buffer first_buffer(const Buffers& buffers) {
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
      Buffer b(*it);
      if (b.size() > 0) return b;
    }
    return Buffer();
  }

  // Each step makes one SSL call (a write step: one per record) and reads its outcome.
  Step handshake_step();
  Step shutdown_step();
  Step read_step(asio::mutable_buffer buffer);
  template <typename Iterator>
  Step write_step(Iterator begin, Iterator end, size_t& written);
  Step write_chunk(const void* data, size_t size, size_t& written);
  // The outcome of an SSL call that returned `result` (<= 0: failed or must wait), the error queue left
  // empty; `saved_errno` is errno right after the call (cleared before it).
  Step outcome(int result, int saved_errno);
  // False when the socket was closed (or replaced) since the SSL object was bound to its descriptor.
  bool descriptor_usable();  // (asio's native_handle() is not const)

  // Runs `step` until it is done, awaiting the socket in between. An immediate result is posted, never
  // delivered inside the initiating call (a coroutine's read loop would otherwise recurse).
  template <typename Signature, typename StepFn, typename Token>
  auto run(StepFn step, Token&& token);

  template <typename Signature, typename StepFn>
  struct Operation;

  static constexpr size_t kMaxRecord = 16 * 1024;  // TLS's largest plaintext record

  asio::ip::tcp::socket socket_;
  SSL* ssl_ = nullptr;
  int bound_descriptor_ = -1;
  // A read left a record OpenSSL could not send (TLS 1.3 post-handshake replies, such as a KeyUpdate):
  // a write must not call SSL_write until that read has sent it, or OpenSSL fails the write as a bad retry.
  bool read_holds_output_ = false;
};

template <typename Signature, typename StepFn>
struct TlsSocket::Operation {
  TlsSocket* tls;
  StepFn step;
  bool started = false;
  Step result;

  template <typename Self>
  void operator()(Self& self, std::error_code wait_error = {}) {
    if (result.next == Next::kDone && started) return finish(self);  // a posted immediate result
    const bool first = !started;
    started = true;
    if (wait_error) {
      result = {Next::kDone, wait_error, 0};
      return finish(self);
    }
    result = tls->descriptor_usable() ? step(*tls) : Step{Next::kDone, asio::error::bad_descriptor, 0};
    switch (result.next) {
      case Next::kWaitRead:
        return tls->socket_.async_wait(asio::ip::tcp::socket::wait_read, std::move(self));
      case Next::kWaitWrite:
        return tls->socket_.async_wait(asio::ip::tcp::socket::wait_write, std::move(self));
      case Next::kDone:
        if (first) return asio::post(std::move(self));
        return finish(self);
    }
  }

  template <typename Self>
  void finish(Self& self) {
    if constexpr (std::is_same_v<Signature, void(std::error_code)>) {
      self.complete(result.error);
    } else {
      self.complete(result.error, result.bytes);
    }
  }
};

template <typename Signature, typename StepFn, typename Token>
auto TlsSocket::run(StepFn step, Token&& token) {
  return asio::async_compose<Token, Signature>(Operation<Signature, StepFn>{this, std::move(step), false, Step{}}, token, socket_);
}

template <typename Iterator>
TlsSocket::Step TlsSocket::write_step(Iterator begin, Iterator end, size_t& written) {
  // A read's unsent record goes first; that read retries when the socket turns writable, as this does.
  if (read_holds_output_) return {Next::kWaitWrite, {}, written};
  for (;;) {
    // The first byte not sent yet: `skip` bytes into buffer `it`.
    Iterator it = begin;
    size_t skip = written;
    for (; it != end && skip >= asio::const_buffer(*it).size(); ++it) skip -= asio::const_buffer(*it).size();
    if (it == end) return {Next::kDone, {}, written};
    const asio::const_buffer first = asio::const_buffer(*it) + skip;
    // Small pieces (a response head and its body) go out as one record and one write(2), gathered here;
    // a retry after WANT_WRITE gathers the same bytes again, as OpenSSL requires.
    thread_local std::array<char, kMaxRecord> gathered;
    size_t size = 0;
    if (first.size() < kMaxRecord && std::next(it) != end) {
      asio::const_buffer piece = first;
      for (Iterator next = it; size < gathered.size();) {
        const size_t n = std::min(piece.size(), gathered.size() - size);
        if (n > 0) std::memcpy(gathered.data() + size, piece.data(), n);  // an empty piece may have no data
        size += n;
        if (++next == end) break;
        piece = asio::const_buffer(*next);
      }
    }
    const size_t before = written;
    Step step = size > first.size() ? write_chunk(gathered.data(), size, written)
                                    : write_chunk(first.data(), first.size(), written);
    if (step.next != Next::kDone || step.error || written == before) return step;
  }
}

}  // namespace mg::net
