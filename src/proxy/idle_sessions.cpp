#include "proxy/idle_sessions.h"

namespace mg::proxy {

void IdleSessions::link(Entry& e, Clock::time_point now) {
  if (e.linked) unlink(e);
  e.since = now;
  e.prev = tail_;
  e.next = nullptr;
  (tail_ ? tail_->next : head_) = &e;
  tail_ = &e;
  e.linked = true;
  ++size_;
}

void IdleSessions::unlink(Entry& e) {
  if (!e.linked) return;
  (e.prev ? e.prev->next : head_) = e.next;
  (e.next ? e.next->prev : tail_) = e.prev;
  e.prev = e.next = nullptr;
  e.linked = false;
  --size_;
}

size_t IdleSessions::park_idle_since(Clock::time_point cutoff) {
  size_t parked = 0;
  while (head_ && head_->since <= cutoff) {
    Entry& e = *head_;
    unlink(e);
    e.parked = true;
    e.park(e.owner);
    ++parked;
  }
  return parked;
}

}  // namespace mg::proxy
