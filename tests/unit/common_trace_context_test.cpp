#include "common/trace_context.h"

#include <gtest/gtest.h>

#include <string>

namespace mg {
namespace {

constexpr std::string_view kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

bool parses(std::string_view value) {
  TraceParent t;
  return parse_traceparent(value, t);
}

TEST(TraceContext, ParsesVersion00KeepingTraceIdParentAndSampledFlag) {
  TraceParent t;
  ASSERT_TRUE(parse_traceparent(kValid, t));
  EXPECT_EQ(view(t.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(view(t.parent_id), "00f067aa0ba902b7");
  EXPECT_TRUE(t.sampled);
  ASSERT_TRUE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", t));
  EXPECT_FALSE(t.sampled);
  // Flags other than "sampled" do not make it sampled.
  ASSERT_TRUE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe", t));
  EXPECT_FALSE(t.sampled);
}

TEST(TraceContext, RefusesHostileAndMalformedValues) {
  const std::string valid(kValid);
  for (std::string_view bad : {
           "",
           "00",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",    // short flags
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // upper-case hex
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   // all-zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   // all-zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // forbidden version
           "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // version not hex
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // version 00 with more
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",   // flags not hex
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",   // wrong separators
           "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",   // dash misplaced
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n",
       })
    EXPECT_FALSE(parses(bad)) << bad;
  std::string nul = valid;
  nul[10] = '\0';
  EXPECT_FALSE(parses(nul));
  EXPECT_FALSE(parses(std::string(4096, 'a')));
}

TEST(TraceContext, ReadsAFutureVersionByItsFirst55Characters) {
  TraceParent t;
  ASSERT_TRUE(
      parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds", t));
  EXPECT_EQ(view(t.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_TRUE(t.sampled);
  EXPECT_TRUE(parses("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  // After the flags a later version has a dash or nothing.
  EXPECT_FALSE(parses("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what"));
  EXPECT_FALSE(parses("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"));
}

TEST(TraceContext, FormatsTheGatewaysTraceparentWithItsOwnSpan) {
  TraceParent t;
  ASSERT_TRUE(parse_traceparent(kValid, t));
  const SpanId span = new_span_id();
  const TraceparentValue out = format_traceparent(t.trace_id, span, t.sampled);
  TraceParent again;
  ASSERT_TRUE(parse_traceparent(view(out), again));
  EXPECT_EQ(view(again.trace_id), view(t.trace_id));
  EXPECT_EQ(view(again.parent_id), view(span));
  EXPECT_NE(view(span), view(t.parent_id));
  EXPECT_EQ(view(out).substr(53), "01");
  EXPECT_EQ(view(format_traceparent(t.trace_id, span, false)).substr(53), "00");
}

TEST(TraceContext, NewSpanIdsDiffer) {
  const SpanId a = new_span_id(), b = new_span_id();
  EXPECT_NE(view(a), view(b));
  EXPECT_NE(view(a), "0000000000000000");
}

TEST(TraceContext, StartedTracesFollowTheSamplingRatio) {
  int sampled = 0;
  for (int i = 0; i < 2000; ++i) {
    const TraceParent t = start_trace(0.25);
    TraceParent parsed;
    ASSERT_TRUE(parse_traceparent(view(format_traceparent(t.trace_id, new_span_id(), t.sampled)), parsed));
    sampled += t.sampled ? 1 : 0;
  }
  EXPECT_GT(sampled, 380);
  EXPECT_LT(sampled, 620);
  EXPECT_TRUE(start_trace(1.0).sampled);
  EXPECT_FALSE(start_trace(0.0).sampled);
  EXPECT_NE(view(start_trace(1.0).trace_id), view(start_trace(1.0).trace_id));
}

TEST(TraceContext, AcceptsValidTracestateLists) {
  EXPECT_TRUE(is_valid_tracestate("congo=t61rcWkgMzE"));
  EXPECT_TRUE(is_valid_tracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
  EXPECT_TRUE(is_valid_tracestate("rojo=00f067aa0ba902b7 , ,\tcongo=t61rcWkgMzE"));  // empty members, OWS
  EXPECT_TRUE(is_valid_tracestate("tenant1@vendor=v, 0tenant@sys=a b c"));
  EXPECT_TRUE(is_valid_tracestate(""));
  std::string many;
  for (int i = 0; i < 32; ++i) many += "k" + std::to_string(i) + "=v,";
  EXPECT_TRUE(is_valid_tracestate(many));
}

TEST(TraceContext, RefusesInvalidOrOversizedTracestate) {
  for (std::string_view bad : {"novalue", "Upper=1", "1key=v", "k=v,k=w", "k=", "k=a=b", "k=\x7f",
                               "k=caf\xc3\xa9", "a@=v", "@b=v", "t@Sys=v", "t@abcdefghijklmno=v"})
    EXPECT_FALSE(is_valid_tracestate(bad)) << bad;
  std::string many;
  for (int i = 0; i < 33; ++i) many += "k" + std::to_string(i) + "=v,";
  EXPECT_FALSE(is_valid_tracestate(many));
  EXPECT_FALSE(is_valid_tracestate("k=" + std::string(kMaxTracestateSize, 'x')));
}

}  // namespace
}  // namespace mg
