// The idle list parks the sessions that waited long enough, oldest first, once each, and never one that
// left the list.

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "proxy/idle_sessions.h"

namespace mg::proxy {
namespace {

using namespace std::chrono_literals;

struct FakeSession {
  int id = 0;
  std::vector<int>* parked = nullptr;
  IdleSessions::Entry entry;
  explicit FakeSession(int i, std::vector<int>& log) : id(i), parked(&log) {
    entry.owner = this;
    entry.park = [](void* s) {
      auto* self = static_cast<FakeSession*>(s);
      self->parked->push_back(self->id);
    };
  }
};

TEST(IdleSessions, ParksThoseIdleSinceTheCutoffOldestFirst) {
  std::vector<int> parked;
  FakeSession a(1, parked), b(2, parked), c(3, parked);
  IdleSessions idle;
  const auto t0 = IdleSessions::Clock::now();
  idle.link(a.entry, t0);
  idle.link(b.entry, t0 + 1s);
  idle.link(c.entry, t0 + 2s);
  EXPECT_EQ(idle.park_idle_since(t0 + 1s), 2u);
  EXPECT_EQ(parked, (std::vector<int>{1, 2}));
  EXPECT_TRUE(a.entry.parked);
  EXPECT_FALSE(a.entry.linked);  // parked once: not listed any more
  EXPECT_FALSE(c.entry.parked);
  EXPECT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle.park_idle_since(t0 + 1s), 0u);
}

TEST(IdleSessions, ASessionThatWokeIsNeverParked) {
  std::vector<int> parked;
  FakeSession a(1, parked), b(2, parked);
  IdleSessions idle;
  const auto t0 = IdleSessions::Clock::now();
  idle.link(a.entry, t0);
  idle.link(b.entry, t0);
  idle.unlink(a.entry);  // its next request arrived
  idle.unlink(a.entry);  // twice is harmless (a destructor after a wake)
  EXPECT_EQ(idle.park_idle_since(t0 + 5s), 1u);
  EXPECT_EQ(parked, (std::vector<int>{2}));
  idle.link(a.entry, t0 + 6s);  // idle again later: listed anew
  EXPECT_EQ(idle.size(), 1u);
  idle.unlink(a.entry);
  EXPECT_EQ(idle.size(), 0u);
}

}  // namespace
}  // namespace mg::proxy
