#include "net/deadline_sweeper.h"

namespace mg::net {
namespace {
thread_local DeadlineSweeper* t_current = nullptr;
}  // namespace

DeadlineSweeper* DeadlineSweeper::current() { return t_current; }

void DeadlineSweeper::start(asio::io_context& io) {
  timer_.emplace(io);
  t_current = this;
  running_ = true;
  tick();
}

void DeadlineSweeper::stop() {
  running_ = false;
  timer_.reset();
  if (t_current == this) t_current = nullptr;
}

void DeadlineSweeper::link(Entry& e) {
  if (e.linked) return;
  e.prev = nullptr;
  e.next = head_;
  if (head_) head_->prev = &e;
  head_ = &e;
  e.linked = true;
}

void DeadlineSweeper::unlink(Entry& e) {
  if (!e.linked) return;
  if (e.prev) e.prev->next = e.next;
  else head_ = e.next;
  if (e.next) e.next->prev = e.prev;
  e.prev = e.next = nullptr;
  e.linked = false;
}

void DeadlineSweeper::tick() {
  if (!running_) return;
  const auto now = Clock::now();
  for (Entry* e = head_; e; e = e->next) {
    if (e->deadline > now || !e->socket) continue;
    e->deadline = Clock::time_point::max();
    e->fired = true;
    std::error_code ignored;
    if (e->cancel_only) {
      e->socket->cancel(ignored);
    } else {
      e->socket->close(ignored);
    }
  }
  timer_->expires_after(kTick);
  timer_->async_wait([this](std::error_code ec) {
    if (!ec) tick();
  });
}

}  // namespace mg::net
