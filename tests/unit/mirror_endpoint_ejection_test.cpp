#include "mirror/endpoint_ejection.h"

#include <gtest/gtest.h>

namespace mg::mirror {
namespace {

using namespace std::chrono_literals;
using Clock = EndpointEjections::Clock;

TEST(EndpointEjections, HealthyUntilAConnectFails) {
  EndpointEjections e;
  const auto t0 = Clock::now();
  EXPECT_FALSE(e.ejected("10.0.0.1:80", t0));
  e.connect_failed("10.0.0.1:80", t0);
  EXPECT_TRUE(e.ejected("10.0.0.1:80", t0 + 999ms));
  EXPECT_FALSE(e.ejected("10.0.0.1:80", t0 + 1000ms));  // the probe may go
  EXPECT_FALSE(e.ejected("10.0.0.2:80", t0));
}

TEST(EndpointEjections, EjectionDoublesPerConsecutiveFailureUpToThirtySeconds) {
  EndpointEjections e;
  auto t = Clock::now();
  const std::chrono::milliseconds expected[] = {1s, 2s, 4s, 8s, 16s, 30s, 30s};
  for (auto d : expected) {
    e.connect_failed("a:1", t);
    EXPECT_TRUE(e.ejected("a:1", t + d - 1ms)) << d.count();
    EXPECT_FALSE(e.ejected("a:1", t + d)) << d.count();
    t += d;
  }
}

TEST(EndpointEjections, ASuccessfulConnectForgetsTheHistory) {
  EndpointEjections e;
  const auto t0 = Clock::now();
  e.connect_failed("a:1", t0);
  e.connect_failed("a:1", t0 + 1s);
  e.connect_succeeded("a:1");
  EXPECT_FALSE(e.ejected("a:1", t0 + 1s));
  EXPECT_EQ(e.ejected_count(t0 + 1s), 0u);
  e.connect_failed("a:1", t0 + 2s);
  EXPECT_FALSE(e.ejected("a:1", t0 + 3s));  // back to the 1 s base
}

}  // namespace
}  // namespace mg::mirror
