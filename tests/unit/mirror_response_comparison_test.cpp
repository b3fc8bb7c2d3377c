#include "mirror/response_comparison.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace mg::mirror {
namespace {

constexpr size_t kMatch = static_cast<size_t>(stats::ComparisonResult::kMatch);
constexpr size_t kMismatch = static_cast<size_t>(stats::ComparisonResult::kMismatch);
constexpr size_t kSkipped = static_cast<size_t>(stats::ComparisonResult::kSkipped);

class ComparisonTest : public ::testing::Test {
 protected:
  ComparisonTest() {
    auto s = std::make_shared<route::MirrorSettings>();
    s->comparison.enabled = true;
    s->comparison.headers = {"x-version"};
    s->comparison.ignore_json_paths = {"/pod"};
    s->comparison.max_body_bytes = 16;
    settings = s;
  }

  std::shared_ptr<ComparisonRendezvous> make() {
    return std::make_shared<ComparisonRendezvous>(
        stats, ring, settings,
        ComparisonIdentity{"req-1", "ns/route", "0", "ns/mirror:80", "127.0.0.1:1", "pod-v1"});
  }
  const stats::MirrorCounters& counters() { return stats.mirror("ns/route", "0", "ns/mirror:80"); }

  static CapturedResponse json(int status, std::string body) {
    CapturedResponse r;
    r.status = status;
    r.content_type = "application/json";
    r.body = std::move(body);
    return r;
  }

  stats::WorkerStats stats;
  MismatchRing ring{kMismatchesPerWorker};
  std::shared_ptr<const route::MirrorSettings> settings;
};

TEST_F(ComparisonTest, MatchWhenMirrorDeliversSecond) {
  auto r = make();
  r->deliver_primary(std::make_shared<const CapturedResponse>(json(200, R"({"pod":"a","k":1})")));
  EXPECT_EQ(counters().comparisons[kMatch], 0u);
  r->deliver_mirror(json(200, R"({"k":1,"pod":"b"})"), "127.0.0.2:2", "pod-v2");
  EXPECT_EQ(counters().comparisons[kMatch], 1u);
  r.reset();
  EXPECT_EQ(counters().comparisons[kSkipped], 0u);
  EXPECT_TRUE(ring.snapshot().empty());
}

TEST_F(ComparisonTest, MismatchWhenPrimaryDeliversSecondIsRecorded) {
  auto r = make();
  r->deliver_mirror(json(500, R"({"k":2})"), "127.0.0.2:2", "pod-v2");
  r->deliver_primary(std::make_shared<const CapturedResponse>(json(200, R"({"k":1})")));
  r.reset();
  EXPECT_EQ(counters().comparisons[kMismatch], 1u);
  EXPECT_EQ(counters().comparisons[kSkipped], 0u);
  auto recorded = ring.snapshot();
  ASSERT_EQ(recorded.size(), 1u);
  const Mismatch& m = recorded[0];
  EXPECT_EQ(m.request_id, "req-1");
  EXPECT_EQ(m.route, "ns/route");
  EXPECT_EQ(m.mirror_backend, "ns/mirror:80");
  EXPECT_EQ(m.primary_pod, "pod-v1");
  EXPECT_EQ(m.mirror_pod, "pod-v2");
  EXPECT_EQ(m.mirror_host, "127.0.0.2:2");
  EXPECT_EQ(m.primary_status, 200);
  EXPECT_EQ(m.mirror_status, 500);
  std::vector<std::string> expected{"status: primary 200, mirror 500", "/k: primary 1, mirror 2"};
  EXPECT_EQ(m.differences, expected);
  EXPECT_GT(m.time_us, 0);
}

TEST_F(ComparisonTest, PrimaryThatNeverDeliversIsSkipped) {
  {
    PrimaryCapture primary;
    auto r = make();
    primary.expect(r);
    r->deliver_mirror(json(200, "{}"), "h", "p");
    // The primary's session ends without deliver() (client went away, upstream failed...).
  }
  EXPECT_EQ(counters().comparisons[kSkipped], 1u);
  EXPECT_EQ(counters().comparisons[kMatch] + counters().comparisons[kMismatch], 0u);
}

TEST_F(ComparisonTest, MirrorThatNeverDeliversIsSkipped) {
  auto r = make();
  r->deliver_primary(std::make_shared<const CapturedResponse>(json(200, "{}")));
  r.reset();
  EXPECT_EQ(counters().comparisons[kSkipped], 1u);
}

TEST_F(ComparisonTest, PrimaryCaptureFeedsEveryWaitingCopy) {
  auto first = make();
  auto second = make();
  PrimaryCapture primary;
  EXPECT_EQ(primary.body(), nullptr);
  primary.expect(first);
  primary.expect(second);
  std::vector<http::Header> headers{{"Content-Type", "application/json"}, {"X-Version", "7"}};
  primary.head(200, headers);
  ASSERT_NE(primary.body(), nullptr);
  primary.body()->add(R"({"a":)");
  primary.body()->add("1}");
  primary.deliver();

  CapturedResponse same = json(200, R"({"a":1})");
  same.headers = {{"x-version", "7"}};
  first->deliver_mirror(same, "h", "p");
  CapturedResponse other = same;
  other.headers = {{"x-version", "8"}};
  second->deliver_mirror(other, "h", "p");
  EXPECT_EQ(counters().comparisons[kMatch], 1u);
  EXPECT_EQ(counters().comparisons[kMismatch], 1u);
  ASSERT_EQ(ring.snapshot().size(), 1u);
  EXPECT_EQ(ring.snapshot()[0].differences,
            std::vector<std::string>{R"(header x-version: primary "7", mirror "8")"});
}

TEST_F(ComparisonTest, PrimaryBodyOverTheCapIsNotCompared) {
  auto r = make();
  PrimaryCapture primary;
  primary.expect(r);
  primary.head(200, {});
  primary.body()->add(std::string(17, 'x'));  // the cap is 16 bytes
  primary.deliver();
  CapturedResponse mirror = json(200, "");
  mirror.truncated = true;
  r->deliver_mirror(mirror, "h", "p");
  EXPECT_EQ(counters().comparisons[kMatch], 1u);
}

TEST_F(ComparisonTest, MetricsShowComparisonsOnlyForComparingMirrors) {
  stats.mirror("ns/other", "0", "ns/plain:80").sent = 1;
  auto r = make();
  r.reset();  // skipped
  std::string text = stats::render_prometheus(stats);
  EXPECT_NE(text.find(R"(mirrorgate_mirror_comparisons_total{route="ns/route",rule="0",mirror_backend="ns/mirror:80",)"
                      R"(result="skipped"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(mirrorgate_mirror_comparisons_total{route="ns/route",rule="0",mirror_backend="ns/mirror:80",)"
                      R"(result="match"} 0)"),
            std::string::npos);
  EXPECT_EQ(text.find(R"(mirrorgate_mirror_comparisons_total{route="ns/other")"), std::string::npos);
}

TEST(MismatchLog, JsonFiltersByRequestIdAndKeepsTheNewest) {
  std::vector<Mismatch> all;
  for (int i = 0; i < 5; ++i) {
    Mismatch m;
    m.time_us = 10 + i;
    m.request_id = i == 2 ? "wanted" : "other";
    m.differences = {"d"};
    all.push_back(m);
  }
  TraceQuery wanted;
  wanted.request_id = "wanted";
  auto doc = nlohmann::json::parse(mismatches_json(all, wanted));
  ASSERT_EQ(doc["mismatches"].size(), 1u);
  EXPECT_EQ(doc["mismatches"][0]["request_id"], "wanted");
  EXPECT_EQ(doc["mismatches"][0]["differences"][0], "d");
  TraceQuery newest_two;
  newest_two.limit = 2;
  auto newest = nlohmann::json::parse(mismatches_json(all, newest_two));
  ASSERT_EQ(newest["mismatches"].size(), 2u);
  EXPECT_EQ(newest["mismatches"][1]["time_us"], 14);
}

TEST(MismatchLog, RingKeepsTheLastN) {
  MismatchRing ring(3);
  for (int i = 0; i < 5; ++i) {
    Mismatch m;
    m.time_us = i;
    ring.record(m);
  }
  auto kept = ring.snapshot();
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0].time_us, 2);
  EXPECT_EQ(kept[2].time_us, 4);
}

}  // namespace
}  // namespace mg::mirror
