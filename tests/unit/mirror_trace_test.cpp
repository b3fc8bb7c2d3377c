#include "mirror/mirror_trace.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace mg::mirror {
namespace {

MirrorOutcome copy_of(std::string id, int64_t time_us) {
  MirrorOutcome o;
  o.time_us = time_us;
  o.request_id = std::move(id);
  o.outcome = "completed";
  o.status = 201;
  return o;
}

TEST(MirrorTrace, EachCopyShowsItsPrimarysStatusAndLatency) {
  PrimaryOutcome primary;
  primary.request_id = "a";
  primary.status = 503;
  primary.latency_ms = 12.5;
  primary.response_bytes = 42;
  primary.upstream_pod = "v1-final";
  const auto doc =
      nlohmann::json::parse(trace_json({copy_of("a", 1), copy_of("b", 2)}, {primary}, TraceQuery{}));
  const auto& list = doc["mirrors"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["primary_status"], 503);
  EXPECT_EQ(list[0]["primary_latency_ms"], 12.5);
  EXPECT_EQ(list[0]["primary_bytes"], 42);
  EXPECT_EQ(list[0]["primary_pod"], "v1-final");
  EXPECT_EQ(list[0]["status"], 201);
  // The primary of "b" has not ended (or left the ring): its fields are absent, not made up.
  EXPECT_FALSE(list[1].contains("primary_status"));
}

TEST(MirrorTrace, KeepsPrimariesInABoundedRing) {
  MirrorTrace trace(2);
  for (int i = 0; i < 5; ++i)
    trace.primaries.record_in_place([&](PrimaryOutcome& p) { p.request_id = std::to_string(i); });
  const auto kept = trace.primaries.snapshot();
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].request_id, "3");
  EXPECT_EQ(kept[1].request_id, "4");
}

}  // namespace
}  // namespace mg::mirror
