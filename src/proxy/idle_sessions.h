#pragma once
// Client connections waiting for their next request. A busy connection keeps its read buffer and
// per-request vectors between requests (no allocation per request); one that stays idle gives them
// back: once a second the worker trims the sessions that have waited longer than that, so an idle
// keep-alive connection costs a few KiB instead of ~25 KiB (gateways hold many: mobile clients, long
// polls). A session is listed only while it is suspended in a readiness wait, holding no view into
// what a trim frees. An intrusive list: listing and unlisting allocate nothing. Per worker, no locks.

#include <chrono>
#include <cstddef>

namespace mg::proxy {

class IdleSessions {
 public:
  using Clock = std::chrono::steady_clock;

  struct Entry {
    void (*trim)(void* owner) = nullptr;  // frees the owner's idle memory
    void* owner = nullptr;
    Clock::time_point since;
    bool linked = false;
    bool trimmed = false;  // set by a trim; the owner re-reserves its memory when it wakes
    Entry* prev = nullptr;
    Entry* next = nullptr;
  };

  IdleSessions() = default;
  IdleSessions(const IdleSessions&) = delete;
  IdleSessions& operator=(const IdleSessions&) = delete;

  // Appends `e` (entries stay ordered by `since`, oldest first).
  void link(Entry& e, Clock::time_point now);
  void unlink(Entry& e);
  // Trims every entry idle since `cutoff` or earlier and unlists it; returns how many.
  size_t trim_idle_since(Clock::time_point cutoff);
  size_t size() const { return size_; }

 private:
  Entry* head_ = nullptr;
  Entry* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace mg::proxy
