#pragma once
// Closes a socket when a deadline passes, so that whatever operation a coroutine is awaiting on it
// completes with an error. One timer per socket, re-armed per phase (header, response, idle).

#include <chrono>
#include <memory>

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

namespace mg::net {

class SocketWatchdog {
 public:
  explicit SocketWatchdog(asio::ip::tcp::socket& socket)
      : timer_(socket.get_executor()), state_(std::make_shared<State>(State{&socket, false})) {}
  ~SocketWatchdog() { state_->socket = nullptr; }  // a handler already queued must not touch it
  SocketWatchdog(const SocketWatchdog&) = delete;
  SocketWatchdog& operator=(const SocketWatchdog&) = delete;

  // On expiry the socket is closed, or with `cancel_only` its pending operations are cancelled, which
  // leaves it usable for a last reply (a 408) when the caller is known to be awaiting it.
  void arm(std::chrono::steady_clock::duration timeout, bool cancel_only = false) {
    timer_.expires_after(timeout);
    timer_.async_wait([state = state_, cancel_only](std::error_code ec) {
      if (ec || !state->socket) return;
      state->fired = true;
      std::error_code ignored;
      if (cancel_only) {
        state->socket->cancel(ignored);
      } else {
        state->socket->close(ignored);
      }
    });
  }
  void disarm() { timer_.cancel(); }
  bool fired() const { return state_->fired; }
  void reset_fired() { state_->fired = false; }

 private:
  struct State {
    asio::ip::tcp::socket* socket;
    bool fired;
  };
  asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace mg::net
