#pragma once
// Coarse deadlines for a worker's sockets. Re-arming an asio timer for every request costs a
// timerfd_settime syscall (and on some VMs much more); a deadline that is seconds away does not need
// that precision. Sockets register an entry; setting its deadline is a plain store; one periodic tick
// per worker closes (or cancels) the sockets whose deadline passed. Entries live in an intrusive list,
// so registering and unregistering allocate nothing. The sweeper must outlive every socket watchdog of
// its worker, including those in coroutine frames destroyed with the io_context.

#include <chrono>
#include <optional>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

namespace mg::net {

class DeadlineSweeper {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kTick{100};
  // Deadlines at least this far away use the sweeper; shorter ones keep a precise timer.
  static constexpr std::chrono::milliseconds kCoarseFrom{1000};

  struct Entry {
    Clock::time_point deadline = Clock::time_point::max();
    asio::ip::tcp::socket* socket = nullptr;
    bool cancel_only = false;
    bool fired = false;
    Entry* prev = nullptr;
    Entry* next = nullptr;
    bool linked = false;
  };

  DeadlineSweeper() = default;
  DeadlineSweeper(const DeadlineSweeper&) = delete;
  DeadlineSweeper& operator=(const DeadlineSweeper&) = delete;

  // Starts ticking on `io` and makes this the sweeper of the calling thread (call on the worker thread).
  void start(asio::io_context& io);
  // Drops the tick timer; call while its io_context still exists. Entries may unlink afterwards.
  void stop();

  void link(Entry& e);
  void unlink(Entry& e);

  // The sweeper of the calling worker thread, or nullptr on other threads (admin, tools).
  static DeadlineSweeper* current();

 private:
  void tick();
  std::optional<asio::steady_timer> timer_;
  Entry* head_ = nullptr;
  bool running_ = false;
};

}  // namespace mg::net
