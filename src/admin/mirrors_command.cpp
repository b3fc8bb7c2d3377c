#include "admin/mirrors_command.h"

#include <chrono>
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

std::string pod_or_host(const nlohmann::json& o, const char* pod, const char* host) {
  std::string p = o.value(pod, "");
  std::string h = o.value(host, "");
  if (p.empty()) return h.empty() ? "-" : h;
  return h.empty() ? p : p + " (" + h + ")";
}

void print_header(std::ostream& out) {
  out << fmt::format("{:<12} {:<36} {:<22} {:<40} {:<44} {:>6} {:>9} {}\n", "TIME", "REQUEST ID", "ROUTE",
                     "PRIMARY POD", "MIRROR POD", "STATUS", "LATENCY", "OUTCOME");
}

void print_row(std::ostream& out, const nlohmann::json& o) {
  std::string outcome = o.value("outcome", "");
  std::string reason = o.value("reason", "");
  int status = o.value("status", 0);
  out << fmt::format("{:<12} {:<36} {:<22} {:<40} {:<44} {:>6} {:>7.1f}ms {}{}\n", format_time(o.value("time_us", 0L)),
                     o.value("request_id", ""), o.value("route", ""), pod_or_host(o, "primary_pod", "primary_host"),
                     pod_or_host(o, "mirror_pod", "mirror_host"), status ? std::to_string(status) : "-",
                     o.value("latency_ms", 0.0), outcome, reason.empty() ? "" : " (" + reason + ")");
}

}  // namespace

int run_mirrors_command(const MirrorsCommandOptions& options, std::ostream& out, std::ostream& err) {
  int64_t since = 0;
  bool header_printed = false;
  size_t printed = 0;
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    std::string target = fmt::format("/mirrors?limit={}&since_us={}", options.limit, since);
    if (!options.request_id.empty()) target += "&request_id=" + options.request_id;
    AdminReply reply = admin_get(options.admin, target);
    if (!reply.error.empty()) {
      err << "mirrorgate mirrors: " << reply.error << "\n";
      return 1;
    }
    if (reply.status != 200) {
      err << "mirrorgate mirrors: admin answered " << reply.status << ": " << reply.body;
      return 1;
    }
    nlohmann::json doc = nlohmann::json::parse(reply.body, nullptr, false);
    if (doc.is_discarded() || !doc.contains("mirrors")) {
      err << "mirrorgate mirrors: unexpected reply from the admin listener\n";
      return 1;
    }
    for (const auto& o : doc["mirrors"]) {
      if (options.json) {
        out << o.dump() << "\n";
      } else {
        if (!header_printed) print_header(out);
        header_printed = true;
        print_row(out, o);
      }
      since = std::max<int64_t>(since, o.value("time_us", 0L));
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
      err << "no mirror copies recorded yet\n";
    } else {
      err << "request " << options.request_id
          << " was not mirrored (or is older than the trace's last entries per worker)\n";
    }
    return options.request_id.empty() ? 0 : 3;
  }
  return 0;
}

}  // namespace mg::admin
