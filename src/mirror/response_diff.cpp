#include "mirror/response_diff.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "http/syntax.h"

namespace mg::mirror {
namespace {

using nlohmann::json;

// Deeper documents are compared as bytes: the structural walk recurses once per level, and a hostile
// 64 KiB body of brackets must not turn into a deep stack on a worker thread.
constexpr size_t kMaxJsonDepth = 64;
constexpr size_t kExcerptBefore = 16;
constexpr size_t kExcerptAfter = 32;
constexpr size_t kMaxValueChars = 80;
constexpr size_t kMaxPointerChars = 200;  // a mismatch stays small however long the keys are

bool is_json_media_type(std::string_view content_type) {
  std::string_view media = http::trim_ows(content_type.substr(0, content_type.find(';')));
  if (http::iequals(media, "application/json")) return true;
  return media.size() > 5 && http::iequals(media.substr(media.size() - 5), "+json");
}

// Deepest nesting of arrays and objects, counted outside strings; enough to refuse a deep document
// before parsing it (the count is an upper bound only for invalid JSON, which the parser rejects anyway).
size_t json_depth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// A short, printable, quoted rendering of bytes: control and non-ASCII bytes as \xNN.
std::string escaped_excerpt(std::string_view bytes) {
  std::string out = "\"";
  for (char c : bytes) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u >= 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string excerpt_at(std::string_view body, size_t offset) {
  size_t from = offset > kExcerptBefore ? offset - kExcerptBefore : 0;
  std::string_view piece = body.substr(std::min(from, body.size()), kExcerptBefore + kExcerptAfter);
  std::string out = from > 0 ? "..." : "";
  out += escaped_excerpt(piece);
  if (from + piece.size() < body.size()) out += "...";
  return out;
}

std::string short_value(const json& value) {
  // ASCII only, so that cutting it short never splits a UTF-8 sequence.
  std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
  if (text.size() > kMaxValueChars) {
    text.resize(kMaxValueChars);
    text += "...";
  }
  return text;
}

// Collects differences, listing the first kMaxListedDifferences and counting the rest.
class DifferenceList {
 public:
  explicit DifferenceList(std::vector<std::string>& out) : out_(out) {}
  void add(std::string difference) {
    ++total_;
    if (out_.size() < kMaxListedDifferences) out_.push_back(std::move(difference));
  }
  size_t total() const { return total_; }

 private:
  std::vector<std::string>& out_;
  size_t total_ = 0;
};

class JsonComparer {
 public:
  JsonComparer(std::span<const std::string> ignore, DifferenceList& differences)
      : ignore_(ignore), differences_(differences) {}

  void compare(const json& primary, const json& mirror) { compare_at(primary, mirror); }

 private:
  // `pointer_` is the RFC 6901 pointer of the values being compared; children append to it and restore it.
  void compare_at(const json& primary, const json& mirror) {
    if (std::find(ignore_.begin(), ignore_.end(), pointer_) != ignore_.end()) return;
    if (primary.is_object() && mirror.is_object()) {
      compare_objects(primary, mirror);
    } else if (primary.is_array() && mirror.is_array()) {
      compare_arrays(primary, mirror);
    } else if (primary.is_number() && mirror.is_number()) {
      // nlohmann compares integers and floating point values by value (1 == 1.0).
      if (primary != mirror) report_values(primary, mirror);
    } else if (primary.type() != mirror.type() || primary != mirror) {
      report_values(primary, mirror);
    }
  }

  void compare_objects(const json& primary, const json& mirror) {
    // Both are sorted by key (nlohmann's object is a std::map): one merge pass finds every key.
    auto p = primary.begin(), m = mirror.begin();
    while (p != primary.end() || m != mirror.end()) {
      if (m == mirror.end() || (p != primary.end() && p.key() < m.key())) {
        child(p.key(), [&] { report_only("primary", p.value()); });
        ++p;
      } else if (p == primary.end() || m.key() < p.key()) {
        child(m.key(), [&] { report_only("mirror", m.value()); });
        ++m;
      } else {
        child(p.key(), [&] { compare_at(p.value(), m.value()); });
        ++p;
        ++m;
      }
    }
  }

  void compare_arrays(const json& primary, const json& mirror) {
    size_t common = std::min(primary.size(), mirror.size());
    for (size_t i = 0; i < common; ++i) child(std::to_string(i), [&] { compare_at(primary[i], mirror[i]); });
    for (size_t i = common; i < primary.size(); ++i)
      child(std::to_string(i), [&] { report_only("primary", primary[i]); });
    for (size_t i = common; i < mirror.size(); ++i)
      child(std::to_string(i), [&] { report_only("mirror", mirror[i]); });
  }

  template <typename Fn>
  void child(std::string_view key, Fn fn) {
    size_t saved = pointer_.size();
    pointer_ += '/';
    for (char c : key) {
      if (c == '~') {
        pointer_ += "~0";
      } else if (c == '/') {
        pointer_ += "~1";
      } else {
        pointer_ += c;
      }
    }
    fn();
    pointer_.resize(saved);
  }

  std::string label() const {
    if (pointer_.empty()) return "body";
    if (pointer_.size() <= kMaxPointerChars) return pointer_;
    return pointer_.substr(0, kMaxPointerChars) + "...";
  }

  void report_values(const json& primary, const json& mirror) {
    differences_.add(fmt::format("{}: primary {}, mirror {}", label(), short_value(primary), short_value(mirror)));
  }

  void report_only(std::string_view side, const json& value) {
    if (std::find(ignore_.begin(), ignore_.end(), pointer_) != ignore_.end()) return;
    differences_.add(fmt::format("{}: only in {} ({})", label(), side, short_value(value)));
  }

  std::span<const std::string> ignore_;
  DifferenceList& differences_;
  std::string pointer_;
};

void compare_bytes(std::string_view primary, std::string_view mirror, DifferenceList& differences) {
  if (primary == mirror) return;
  auto first = std::mismatch(primary.begin(), primary.end(), mirror.begin(), mirror.end()).first;
  size_t offset = static_cast<size_t>(first - primary.begin());
  differences.add(fmt::format("body: primary {} bytes, mirror {} bytes, first difference at byte {}: primary {}, "
                              "mirror {}",
                              primary.size(), mirror.size(), offset, excerpt_at(primary, offset),
                              excerpt_at(mirror, offset)));
}

// Structural comparison when both sides say JSON and both parse within the depth bound; bytes otherwise.
void compare_bodies(const CapturedResponse& primary, const CapturedResponse& mirror,
                    const route::ResponseComparison& settings, DifferenceList& differences) {
  if (is_json_media_type(primary.content_type) && is_json_media_type(mirror.content_type) &&
      json_depth(primary.body) <= kMaxJsonDepth && json_depth(mirror.body) <= kMaxJsonDepth) {
    json p = json::parse(primary.body, nullptr, false);
    json m = json::parse(mirror.body, nullptr, false);
    if (!p.is_discarded() && !m.is_discarded()) {
      JsonComparer(settings.ignore_json_paths, differences).compare(p, m);
      return;
    }
  }
  compare_bytes(primary.body, mirror.body, differences);
}

std::string quoted_or_absent(const std::string* value) {
  if (!value) return "absent";
  std::string out = escaped_excerpt(std::string_view(*value).substr(0, kMaxValueChars));
  if (value->size() > kMaxValueChars) out += "...";
  return out;
}

const std::string* find_header(const CapturedResponse& response, std::string_view name) {
  for (const auto& [n, v] : response.headers)
    if (n == name) return &v;
  return nullptr;
}

}  // namespace

void capture_head(int status, std::span<const http::Header> headers, std::span<const std::string> names,
                  CapturedResponse& out) {
  out.status = status;
  for (const auto& h : headers) {
    if (http::iequals(h.name, "content-type")) out.content_type = h.value;
    auto wanted = std::find_if(names.begin(), names.end(), [&](const std::string& n) { return http::iequals(n, h.name); });
    if (wanted == names.end()) continue;
    auto it = std::find_if(out.headers.begin(), out.headers.end(), [&](const auto& kv) { return kv.first == *wanted; });
    if (it == out.headers.end()) {
      out.headers.emplace_back(*wanted, h.value);
    } else {
      it->second.append(", ").append(h.value);
    }
  }
}

std::string format_size(uint64_t bytes) {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0) return fmt::format("{} MiB", bytes / (1024 * 1024));
  if (bytes >= 1024 && bytes % 1024 == 0) return fmt::format("{} KiB", bytes / 1024);
  return fmt::format("{} bytes", bytes);
}

DiffResult compare_responses(const CapturedResponse& primary, const CapturedResponse& mirror,
                             const route::ResponseComparison& settings) {
  DiffResult result;
  DifferenceList differences(result.differences);
  if (primary.status != mirror.status)
    differences.add(fmt::format("status: primary {}, mirror {}", primary.status, mirror.status));
  for (const auto& name : settings.headers) {
    const std::string* p = find_header(primary, name);
    const std::string* m = find_header(mirror, name);
    if ((p == nullptr) != (m == nullptr) || (p && *p != *m))
      differences.add(fmt::format("header {}: primary {}, mirror {}", name, quoted_or_absent(p), quoted_or_absent(m)));
  }

  // A side captured with a larger limit (another mirror's) is judged by this comparison's own cap.
  const uint64_t cap = settings.max_body_bytes;
  const bool primary_over = primary.truncated || primary.body.size() > cap;
  const bool mirror_over = mirror.truncated || mirror.body.size() > cap;
  if (primary_over && mirror_over) {
    result.note = "body not compared: over " + format_size(cap);
  } else if (primary_over || mirror_over) {
    auto side = [&](bool over, const CapturedResponse& r) {
      return over ? "over " + format_size(cap) : std::to_string(r.body.size()) + " bytes";
    };
    differences.add(fmt::format("body: primary {}, mirror {}", side(primary_over, primary), side(mirror_over, mirror)));
  } else {
    compare_bodies(primary, mirror, settings, differences);
  }

  if (differences.total() > result.differences.size())
    result.differences.push_back(
        fmt::format("... and {} more differences", differences.total() - result.differences.size()));
  result.match = differences.total() == 0;
  return result;
}

}  // namespace mg::mirror
