#include "admin/mirror_diff_command.h"

#include <chrono>
#include <ctime>
#include <ostream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "admin/admin_client.h"

namespace mg::admin {
namespace {

std::string format_time(int64_t time_us) {
  auto tp = std::chrono::system_clock::time_point(std::chrono::microseconds(time_us));
  std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", tm.tm_hour, tm.tm_min, tm.tm_sec, (time_us / 1000) % 1000);
}

std::string pod_or_host(const nlohmann::json& m, const char* pod, const char* host) {
  std::string p = m.value(pod, "");
  std::string h = m.value(host, "");
  if (p.empty()) return h.empty() ? "-" : h;
  return h.empty() ? p : p + " (" + h + ")";
}

void print_mismatch(std::ostream& out, const nlohmann::json& m) {
  out << fmt::format("{} request {} route {} mirror {}\n", format_time(m.value("time_us", int64_t{0})),
                     m.value("request_id", ""), m.value("route", ""), m.value("mirror_backend", ""));
  out << fmt::format("  primary {} answered {}; mirror {} answered {}\n",
                     pod_or_host(m, "primary_pod", "primary_host"), m.value("primary_status", 0),
                     pod_or_host(m, "mirror_pod", "mirror_host"), m.value("mirror_status", 0));
  if (auto it = m.find("differences"); it != m.end() && it->is_array())
    for (const auto& d : *it)
      if (d.is_string()) out << "  - " << d.get<std::string>() << "\n";
  if (std::string note = m.value("note", ""); !note.empty()) out << "  (" << note << ")\n";
}

}  // namespace

int run_mirror_diff_command(const MirrorsCommandOptions& options, std::ostream& out, std::ostream& err) {
  int64_t since = 0;
  size_t printed = 0;
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    std::string target = fmt::format("/mirrors/diff?limit={}&since_us={}", options.limit, since);
    if (!options.request_id.empty()) target += "&request_id=" + options.request_id;
    AdminReply reply = admin_get(options.admin, target);
    if (!reply.error.empty()) {
      err << "mirrorgate mirrors --diff: " << reply.error << "\n";
      return 1;
    }
    if (reply.status != 200) {
      err << "mirrorgate mirrors --diff: admin answered " << reply.status << ": " << reply.body;
      return 1;
    }
    nlohmann::json doc = nlohmann::json::parse(reply.body, nullptr, false);
    if (doc.is_discarded() || !doc.contains("mismatches") || !doc["mismatches"].is_array()) {
      err << "mirrorgate mirrors --diff: unexpected reply from the admin listener\n";
      return 1;
    }
    for (const auto& m : doc["mismatches"]) {
      if (options.json) {
        out << m.dump() << "\n";
      } else {
        if (printed > 0) out << "\n";
        print_mismatch(out, m);
      }
      since = std::max<int64_t>(since, m.value("time_us", int64_t{0}));
      ++printed;
    }
    out.flush();
    if (!options.follow) break;
    if (options.follow_seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= options.follow_seconds)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (printed == 0 && !options.follow) {
    if (options.request_id.empty()) {
      err << "no response mismatches recorded (comparison off, nothing compared yet, or all matched)\n";
      return 0;
    }
    err << "no mismatch recorded for request " << options.request_id
        << " (it matched, was not compared, or is older than the last mismatches kept per worker)\n";
    return 3;
  }
  return 0;
}

}  // namespace mg::admin
