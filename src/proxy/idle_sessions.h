#pragma once
// Client connections waiting for their next request. A busy connection keeps its session (read buffer,
// per-request vectors, coroutine frames) between requests: no allocation per request. One that stays
// idle is parked: once a second the worker asks the sessions that have waited longer than that to end,
// leaving only the socket and a readiness wait (downstream_session.cpp), so an idle keep-alive
// connection costs what nginx's does rather than ~25 KiB (gateways hold many: mobile clients, long
// polls). A session is listed only while it is suspended in a readiness wait. An intrusive list:
// listing and unlisting allocate nothing. Per worker, no locks.

#include <chrono>
#include <cstddef>

namespace mg::proxy {

class IdleSessions {
 public:
  using Clock = std::chrono::steady_clock;

  struct Entry {
    void (*park)(void* owner) = nullptr;  // asks the owner to end its session and park the connection
    void* owner = nullptr;
    Clock::time_point since;
    bool linked = false;
    bool parked = false;  // set when asked to park
    Entry* prev = nullptr;
    Entry* next = nullptr;
  };

  IdleSessions() = default;
  IdleSessions(const IdleSessions&) = delete;
  IdleSessions& operator=(const IdleSessions&) = delete;

  // Appends `e` (entries stay ordered by `since`, oldest first).
  void link(Entry& e, Clock::time_point now);
  void unlink(Entry& e);
  // Parks every entry idle since `cutoff` or earlier and unlists it; returns how many.
  size_t park_idle_since(Clock::time_point cutoff);
  size_t size() const { return size_; }

 private:
  Entry* head_ = nullptr;
  Entry* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace mg::proxy
