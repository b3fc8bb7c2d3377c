#pragma once
// Closes a socket when a deadline passes, so that whatever operation a coroutine is awaiting on it
// completes with an error. Re-armed per phase (header, response, idle). Deadlines of a second or more
// go to the worker's DeadlineSweeper (no syscall per arm); shorter ones use a precise timer.

#include <chrono>
#include <memory>
#include <optional>

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "net/deadline_sweeper.h"

namespace mg::net {

class SocketWatchdog {
 public:
  explicit SocketWatchdog(asio::ip::tcp::socket& socket)
      : socket_(socket), sweeper_(DeadlineSweeper::current()) {
    entry_.socket = &socket;
  }
  ~SocketWatchdog() {
    if (sweeper_) sweeper_->unlink(entry_);
    if (state_) state_->socket = nullptr;  // a handler already queued must not touch it
  }
  SocketWatchdog(const SocketWatchdog&) = delete;
  SocketWatchdog& operator=(const SocketWatchdog&) = delete;

  // On expiry the socket is closed, or with `cancel_only` its pending operations are cancelled, which
  // leaves it usable for a last reply (a 408) when the caller is known to be awaiting it.
  void arm(std::chrono::steady_clock::duration timeout, bool cancel_only = false) {
    if (sweeper_ && timeout >= DeadlineSweeper::kCoarseFrom) {
      disarm_timer();
      entry_.cancel_only = cancel_only;
      entry_.deadline = std::chrono::steady_clock::now() + timeout;
      sweeper_->link(entry_);
      return;
    }
    entry_.deadline = DeadlineSweeper::Clock::time_point::max();
    if (!timer_) {
      timer_.emplace(socket_.get_executor());
      state_ = std::make_shared<State>(State{&socket_, false});
    }
    timer_armed_ = true;
    timer_->expires_after(timeout);
    timer_->async_wait([state = state_, cancel_only](std::error_code ec) {
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
  void disarm() {
    entry_.deadline = DeadlineSweeper::Clock::time_point::max();
    disarm_timer();
  }
  bool fired() const { return entry_.fired || (state_ && state_->fired); }
  void reset_fired() {
    entry_.fired = false;
    if (state_) state_->fired = false;
  }

 private:
  void disarm_timer() {
    if (timer_armed_) {
      timer_->cancel();
      timer_armed_ = false;
    }
  }
  struct State {
    asio::ip::tcp::socket* socket;
    bool fired;
  };
  asio::ip::tcp::socket& socket_;
  DeadlineSweeper* sweeper_;
  DeadlineSweeper::Entry entry_;
  std::optional<asio::steady_timer> timer_;
  std::shared_ptr<State> state_;
  bool timer_armed_ = false;
};

}  // namespace mg::net
