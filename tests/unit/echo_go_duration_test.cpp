#include <gtest/gtest.h>

#include "echo/go_duration.h"

namespace mg::echo {
namespace {

using std::chrono::nanoseconds;

int64_t ns(std::string_view s) {
  DurationResult r = parse_go_duration(s);
  EXPECT_TRUE(r.ok) << s << ": " << r.error;
  return r.value.count();
}

std::string error_of(std::string_view s) {
  DurationResult r = parse_go_duration(s);
  EXPECT_FALSE(r.ok) << s;
  return r.error;
}

TEST(GoDuration, ParsesUnitsAndSums) {
  EXPECT_EQ(ns("500ms"), 500'000'000);
  EXPECT_EQ(ns("1s"), 1'000'000'000);
  EXPECT_EQ(ns("1m30s"), 90'000'000'000);
  EXPECT_EQ(ns("1h"), 3'600'000'000'000);
  EXPECT_EQ(ns("10ns"), 10);
  EXPECT_EQ(ns("3us"), 3000);
  EXPECT_EQ(ns("3\xC2\xB5s"), 3000);  // U+00B5 micro sign
  EXPECT_EQ(ns("3\xCE\xBCs"), 3000);  // U+03BC Greek mu
  EXPECT_EQ(ns("1h2m3s4ms5us6ns"), 3'723'004'005'006);
}

TEST(GoDuration, ParsesFractionsSignsAndZero) {
  EXPECT_EQ(ns("1.5s"), 1'500'000'000);
  EXPECT_EQ(ns(".5s"), 500'000'000);
  EXPECT_EQ(ns("1.s"), 1'000'000'000);
  EXPECT_EQ(ns("-1.5h"), -5'400'000'000'000);
  EXPECT_EQ(ns("+2ms"), 2'000'000);
  EXPECT_EQ(ns("0"), 0);
  EXPECT_EQ(ns("-0"), 0);
  EXPECT_EQ(ns("0s"), 0);
  EXPECT_EQ(ns("9223372036854775807ns"), INT64_MAX);
  EXPECT_EQ(ns("-9223372036854775808ns"), INT64_MIN);
  EXPECT_EQ(ns("1.0000000000000000000000001s"), 1'000'000'000);  // extra fraction digits are ignored
}

TEST(GoDuration, RejectsWithGoErrorTexts) {
  EXPECT_EQ(error_of("abc"), "time: invalid duration \"abc\"");
  EXPECT_EQ(error_of(""), "time: invalid duration \"\"");
  EXPECT_EQ(error_of("-"), "time: invalid duration \"-\"");
  EXPECT_EQ(error_of("."), "time: invalid duration \".\"");
  EXPECT_EQ(error_of(".s"), "time: invalid duration \".s\"");
  EXPECT_EQ(error_of("1"), "time: missing unit in duration \"1\"");
  EXPECT_EQ(error_of("1x"), "time: unknown unit \"x\" in duration \"1x\"");
  EXPECT_EQ(error_of("1S"), "time: unknown unit \"S\" in duration \"1S\"");
  EXPECT_EQ(error_of("1 s"),
            "time: unknown unit \" s\" in duration \"1 s\"");  // the unit runs to the next digit
  EXPECT_EQ(error_of("9223372036854775808ns"), "time: invalid duration \"9223372036854775808ns\"");
  EXPECT_EQ(error_of("3000000h"), "time: invalid duration \"3000000h\"");
}

TEST(GoDuration, QuotesNonPrintableBytesAsHex) {
  EXPECT_EQ(error_of("\xC3\xA9"), "time: invalid duration \"\\xc3\\xa9\"");
  EXPECT_EQ(go_time_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\x0a\"");
}

}  // namespace
}  // namespace mg::echo
