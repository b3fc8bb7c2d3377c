#include "admin/ring_follower.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <ostream>
#include <thread>

#include <fmt/format.h>

#include "admin/admin_auth.h"
#include "admin/admin_client.h"

namespace mg::admin {

std::string format_time(int64_t time_us) {
  auto tp = std::chrono::system_clock::time_point(std::chrono::microseconds(time_us));
  std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", tm.tm_hour, tm.tm_min, tm.tm_sec, (time_us / 1000) % 1000);
}

std::string pod_or_host(const nlohmann::json& entry, const char* pod, const char* host) {
  std::string p = entry.value(pod, "");
  std::string h = entry.value(host, "");
  if (p.empty()) return h.empty() ? "-" : h;
  return h.empty() ? p : p + " (" + h + ")";
}

int64_t follow_admin_ring(const MirrorsCommandOptions& options, std::string_view command, std::string_view path,
                          std::string_view key, std::ostream& out, std::ostream& err,
                          const std::function<void(const nlohmann::json&)>& on_entry) {
  // Following, `--limit N` is how much history to show first (0: none, as `tail -n 0 -f`); every later
  // poll takes all that is new. The first poll of a zero limit only learns where "new" begins.
  constexpr size_t kEverythingNew = 1'000'000;
  const bool skip_history = options.follow && options.limit == 0;
  int64_t since = 0;
  int64_t handed = 0;
  const auto start = std::chrono::steady_clock::now();
  std::string token;
  try {
    if (!options.admin_token_file.empty()) token = read_token_file(options.admin_token_file);
  } catch (const std::exception& e) {
    err << command << ": " << e.what() << "\n";
    return -1;
  }
  for (bool first = true;; first = false) {
    const size_t limit = first ? (skip_history ? 1 : options.limit) : (options.follow ? kEverythingNew : options.limit);
    std::string target = fmt::format("{}?limit={}&since_us={}", path, limit, since);
    if (!options.request_id.empty()) target += "&request_id=" + options.request_id;
    AdminReply reply = admin_get(options.admin, target, 5000, token);
    if (!reply.error.empty()) {
      err << command << ": " << reply.error << "\n";
      return -1;
    }
    if (reply.status != 200) {
      err << command << ": admin answered " << reply.status << ": " << reply.body;
      return -1;
    }
    nlohmann::json doc = nlohmann::json::parse(reply.body, nullptr, false);
    const std::string field(key);
    if (doc.is_discarded() || !doc.contains(field) || !doc[field].is_array()) {
      err << command << ": unexpected reply from the admin listener\n";
      return -1;
    }
    for (const auto& entry : doc[field]) {
      since = std::max<int64_t>(since, entry.value("time_us", int64_t{0}));
      if (first && skip_history) continue;
      on_entry(entry);
      ++handed;
    }
    out.flush();
    if (!options.follow) break;
    if (options.follow_seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= options.follow_seconds)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return handed;
}

}  // namespace mg::admin
