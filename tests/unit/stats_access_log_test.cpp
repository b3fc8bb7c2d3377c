#include "stats/access_log.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <re2/re2.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace mg::stats {
namespace {

const auto kTime = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764927864123));

RequestLogEntry request_entry() {
  RequestLogEntry e;
  e.request_id = "rid-1";
  e.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  e.client = "127.0.0.9:5555";
  e.method = "GET";
  e.host = "shop.example";
  e.target = "/a b\"c\\d\x01";
  e.protocol = "HTTP/1.1";
  e.route = "default/shop";
  e.rule = "0";
  e.backend = "default/v1:8080";
  e.upstream_host = "10.0.0.2:3000";
  e.upstream_pod = "v1-abc";
  e.upstream_protocol = "HTTP/1.1";
  e.status = 200;
  e.request_bytes = 12;
  e.response_bytes = 345;
  e.duration_ms = 1.5;
  e.upstream_duration_ms = 1.25;
  e.mirrors = 1;
  e.retries = 2;
  e.error = "upstream failed during response body";
  return e;
}

// The text line's fields: "quoted strings" (with \" and \\ inside) and bare words.
std::vector<std::string> text_fields(const std::string& line) {
  std::vector<std::string> out;
  static const RE2 kField(R"re(\s*("(?:[^"\\]|\\.)*"|[^\s"]+))re");
  re2::StringPiece input(line.data(), line.size());
  std::string field;
  while (RE2::Consume(&input, kField, &field)) out.push_back(field);
  return out;
}

TEST(AccessLog, JsonAndTextCarryTheSameFieldsInTheSameOrder) {
  std::string json_line, text_line;
  format_log_line(json_line, request_entry(), AccessLogFormat::kJson, kTime);
  format_log_line(text_line, request_entry(), AccessLogFormat::kText, kTime);
  ASSERT_EQ(json_line.back(), '\n');
  ASSERT_EQ(text_line.back(), '\n');
  ASSERT_EQ(text_line.find('\n'), text_line.size() - 1);  // one line, whatever the path holds
  const auto doc = nlohmann::ordered_json::parse(json_line);
  const std::vector<std::string> fields = text_fields(text_line);
  ASSERT_EQ(fields.size(), doc.size()) << text_line;
  size_t i = 0;
  for (const auto& [name, value] : doc.items()) {
    SCOPED_TRACE(name);
    if (value.is_string() && name != "time" && name != "type") {
      EXPECT_EQ(fields[i].front(), '"');
    } else if (value.is_number_float()) {
      EXPECT_DOUBLE_EQ(std::stod(fields[i]), value.get<double>());
    } else if (value.is_number()) {
      EXPECT_EQ(fields[i], value.dump());
    }
    ++i;
  }
  EXPECT_EQ(doc["time"], "2025-12-05T09:44:24.123Z");
  EXPECT_EQ(fields[0], "2025-12-05T09:44:24.123Z");
  EXPECT_EQ(fields[1], "request");
  EXPECT_EQ(doc["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(doc["rule"], "0");
  EXPECT_EQ(doc["retries"], 2);
  EXPECT_EQ(doc["upstream_duration_ms"], 1.25);
}

TEST(AccessLog, TextEscapesQuotesBackslashesAndControlBytes) {
  std::string line;
  format_log_line(line, request_entry(), AccessLogFormat::kText, kTime);
  EXPECT_NE(line.find(R"("/a b\"c\\d\x01")"), std::string::npos) << line;
  std::string out;
  append_text_string(out, "caf\xc3\xa9\t\x7f");
  EXPECT_EQ(out, R"("caf\xC3\xA9\x09\x7F")");
}

// What each format makes of one byte, written out plainly: the reference for the escaping below.
std::string escaped_by_hand(unsigned char u, bool json) {
  if (u == '"' || u == '\\') return std::string("\\") + static_cast<char>(u);
  static const char* kHex = "0123456789abcdef";
  static const char* kUpper = "0123456789ABCDEF";
  if (json) {
    if (u < 0x20 || u == 0x7f) return std::string("\\u00") + kHex[u >> 4] + kHex[u & 15];
  } else if (u < 0x20 || u >= 0x7f) {
    return std::string("\\x") + kUpper[u >> 4] + kUpper[u & 15];
  }
  return std::string(1, static_cast<char>(u));
}

TEST(AccessLog, EveryByteIsEscapedWhereverItStandsInALongField) {
  // Fields longer than one 16-byte step, with the byte at every place: the first, inside a step, the last
  // of a step, and in the tail after the last whole step.
  for (int b = 0; b < 256; ++b) {
    const auto u = static_cast<unsigned char>(b);
    for (size_t at = 0; at < 37; ++at) {
      std::string field(37, 'a');
      field[at] = static_cast<char>(u);
      for (const bool json : {true, false}) {
        std::string out;
        if (json) {
          append_json_string(out, field);
        } else {
          append_text_string(out, field);
        }
        const std::string want = '"' + std::string(at, 'a') + escaped_by_hand(u, json) + std::string(36 - at, 'a') + '"';
        ASSERT_EQ(out, want) << "byte " << b << " at " << at << (json ? " (json)" : " (text)");
      }
    }
  }
}

TEST(AccessLog, ALineOfBytesThatAllNeedEscapingIsWrittenWhole) {
  // Every byte of the path at its longest escape (JSON's \u00XX), in both formats: the line is written
  // into room sized for the worst case, so this is the case that would overrun it.
  const std::string path(3000, '\x01');
  RequestLogEntry e = request_entry();
  e.target = path;
  std::string json_line, text_line;
  format_log_line(json_line, e, AccessLogFormat::kJson, kTime);
  format_log_line(text_line, e, AccessLogFormat::kText, kTime);
  EXPECT_EQ(nlohmann::json::parse(json_line)["path"], path);
  std::string escaped;
  for (size_t i = 0; i < path.size(); ++i) escaped += "\\x01";
  EXPECT_NE(text_line.find('"' + escaped + '"'), std::string::npos);
  // The next line starts where this one ended: nothing of the worst case's room is left in between.
  std::string two;
  format_log_line(two, e, AccessLogFormat::kJson, kTime);
  format_log_line(two, request_entry(), AccessLogFormat::kJson, kTime);
  EXPECT_EQ(two.substr(0, json_line.size()), json_line);
  EXPECT_EQ(nlohmann::json::parse(two.substr(json_line.size()))["path"], "/a b\"c\\d\x01");
}

TEST(AccessLog, AbsentValuesAreADashInTextAndLeftOutOfJson) {
  RequestLogEntry e;  // what never became a request: no trace, no route, no backend answered
  e.client = "127.0.0.9:5555";
  e.status = 400;
  e.error = "malformed request";
  std::string json_line, text_line;
  format_log_line(json_line, e, AccessLogFormat::kJson, kTime);
  format_log_line(text_line, e, AccessLogFormat::kText, kTime);
  const auto doc = nlohmann::json::parse(json_line);
  EXPECT_FALSE(doc.contains("trace_id"));
  EXPECT_FALSE(doc.contains("upstream_duration_ms"));
  EXPECT_EQ(doc["route"], "");
  const std::vector<std::string> fields = text_fields(text_line);
  ASSERT_EQ(fields.size(), 23u) << text_line;  // every field, present or not
  EXPECT_EQ(fields[3], "-");                   // trace_id
  EXPECT_EQ(fields[19], "-");                  // upstream_duration_ms
  EXPECT_EQ(fields[22], "\"malformed request\"");
}

TEST(AccessLog, MirrorLinesHaveTheirOwnFieldList) {
  MirrorLogEntry e;
  e.request_id = "rid-1";
  e.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  e.route = "default/shop";
  e.rule = "checkout";
  e.method = "POST";
  e.path = "/cart";
  e.mirror_backend = "default/v2:8080";
  e.outcome = "dropped";
  e.reason = "budget";
  std::string json_line, text_line;
  format_log_line(json_line, e, AccessLogFormat::kJson, kTime);
  format_log_line(text_line, e, AccessLogFormat::kText, kTime);
  const auto doc = nlohmann::json::parse(json_line);
  EXPECT_EQ(doc["type"], "mirror");
  EXPECT_EQ(doc["rule"], "checkout");
  EXPECT_EQ(doc["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  const std::vector<std::string> fields = text_fields(text_line);
  ASSERT_EQ(fields.size(), 17u) << text_line;
  EXPECT_EQ(fields[1], "mirror");
  EXPECT_EQ(fields[12], "\"dropped\"");
  EXPECT_EQ(fields[13], "\"budget\"");
}

TEST(AccessLog, FormatNamesAreJsonAndText) {
  AccessLogFormat f = AccessLogFormat::kJson;
  EXPECT_TRUE(parse_access_log_format("text", f));
  EXPECT_EQ(f, AccessLogFormat::kText);
  EXPECT_TRUE(parse_access_log_format("json", f));
  EXPECT_EQ(f, AccessLogFormat::kJson);
  EXPECT_FALSE(parse_access_log_format("JSON", f));
  EXPECT_FALSE(parse_access_log_format("", f));
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

size_t line_count(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

// A worker's lines wait for the flush its loop runs after the turn; one schedule per batch.
TEST(AccessLog, AWorkersLinesGoOutTogetherAtTheFlush) {
  const auto path = std::filesystem::temp_directory_path() / ("mg-access-log-batch-" + std::to_string(::getpid()));
  std::filesystem::remove(path);
  std::thread worker([&] {
    AccessLog log(path.string());
    int scheduled = 0;
    AccessLog::buffer_on_this_thread([](void* n) { ++*static_cast<int*>(n); }, &scheduled);
    for (int i = 0; i < 3; ++i) log.log(request_entry());
    EXPECT_EQ(scheduled, 1);
    EXPECT_EQ(read_file(path), "");
    log.flush_thread();
    EXPECT_EQ(line_count(read_file(path)), 3u);
    log.log(request_entry());  // a new batch, a new schedule
    EXPECT_EQ(scheduled, 2);
    // A burst past 64 KiB goes out without waiting for the turn to end.
    for (int i = 0; i < 200; ++i) log.log(request_entry());
    EXPECT_GT(line_count(read_file(path)), 3u);
    AccessLog::buffer_on_this_thread(nullptr, nullptr);
  });  // the log's destructor writes the rest
  worker.join();
  const std::string all = read_file(path);
  EXPECT_EQ(line_count(all), 204u);
  std::istringstream lines(all);
  for (std::string line; std::getline(lines, line);) EXPECT_TRUE(nlohmann::json::accept(line)) << line;
  std::filesystem::remove(path);
}

// Other threads (the admin listener's, a test's) write each line at once.
TEST(AccessLog, AThreadWithoutAFlushWritesEachLineAtOnce) {
  const auto path = std::filesystem::temp_directory_path() / ("mg-access-log-direct-" + std::to_string(::getpid()));
  std::filesystem::remove(path);
  {
    AccessLog log(path.string());
    log.log(request_entry());
    EXPECT_EQ(line_count(read_file(path)), 1u);
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace mg::stats
