#include "net/tls_socket.h"

#include <openssl/err.h>

#include <cerrno>
#include <climits>

#include <asio/ssl/error.hpp>

namespace mg::net {

TlsSocket::TlsSocket(asio::ip::tcp::socket socket, asio::ssl::context& context)
    : socket_(std::move(socket)), ssl_(SSL_new(context.native_handle())) {
  if (!ssl_) {
    throw std::system_error(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category(), "SSL_new");
  }
  // As asio::ssl::stream sets them: a write may complete a record at a time and be retried from a buffer
  // that moved, and OpenSSL frees its record buffers while they are empty (an idle connection holds none).
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // One recv(2) takes whatever has arrived rather than a record header and then its body.
  SSL_set_read_ahead(ssl_, 1);
  std::error_code ignored;
  socket_.non_blocking(true, ignored);
  if (socket_.is_open()) {
    bound_descriptor_ = static_cast<int>(socket_.native_handle());
    SSL_set_fd(ssl_, bound_descriptor_);
  }
}

TlsSocket::~TlsSocket() { SSL_free(ssl_); }

bool TlsSocket::descriptor_usable() {
  return bound_descriptor_ >= 0 && socket_.is_open() && static_cast<int>(socket_.native_handle()) == bound_descriptor_;
}

TlsSocket::Step TlsSocket::handshake_step() {
  ERR_clear_error();
  errno = 0;
  const int result = SSL_do_handshake(ssl_);
  if (result == 1) return {};
  return outcome(result, errno);
}

TlsSocket::Step TlsSocket::shutdown_step() {
  ERR_clear_error();
  errno = 0;
  int result = SSL_shutdown(ssl_);
  if (result == 0) result = SSL_shutdown(ssl_);  // close_notify sent; now wait for the peer's
  if (result == 1) return {};
  return outcome(result, errno);
}

TlsSocket::Step TlsSocket::read_step(asio::mutable_buffer buffer) {
  if (buffer.size() == 0) return {};
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  const int result = SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n);
  const int saved_errno = errno;
  if (result == 1) {
    read_holds_output_ = false;
    return {Next::kDone, {}, n};
  }
  Step step = outcome(result, saved_errno);
  read_holds_output_ = step.next == Next::kWaitWrite;
  return step;
}

TlsSocket::Step TlsSocket::write_chunk(const void* data, size_t size, size_t& written) {
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  const int result = SSL_write_ex(ssl_, data, size, &n);
  if (result == 1) {
    written += n;
    return {Next::kDone, {}, written};
  }
  Step step = outcome(result, errno);
  step.bytes = written;
  return step;
}

TlsSocket::Step TlsSocket::outcome(int result, int saved_errno) {
  Step step;
  switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_NONE:
      break;
    case SSL_ERROR_WANT_READ:
      step.next = Next::kWaitRead;
      break;
    case SSL_ERROR_WANT_WRITE:
      step.next = Next::kWaitWrite;
      break;
    case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
      step.error = asio::error::eof;
      break;
    case SSL_ERROR_SYSCALL: {
      const unsigned long queued = ERR_get_error();
      if (queued != 0) {
        step.error = std::error_code(static_cast<int>(queued), asio::error::get_ssl_category());
      } else if (saved_errno != 0 && saved_errno != EAGAIN) {
        step.error = std::error_code(saved_errno, asio::error::get_system_category());
      } else {
        step.error = asio::ssl::error::stream_truncated;  // EOF without close_notify (older OpenSSL)
      }
      break;
    }
    case SSL_ERROR_SSL: {
      const unsigned long queued = ERR_get_error();
      // OpenSSL 3 reports a TCP close without close_notify so; Asio's stream calls it stream_truncated.
      if (ERR_GET_REASON(queued) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        step.error = asio::ssl::error::stream_truncated;
      } else {
        step.error = std::error_code(static_cast<int>(queued), asio::error::get_ssl_category());
      }
      break;
    }
    default:
      step.error = asio::ssl::error::unexpected_result;
      break;
  }
  ERR_clear_error();
  return step;
}

}  // namespace mg::net
