#include "admin/mirrors_command.h"

#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "admin/ring_follower.h"

namespace mg::admin {
namespace {

void print_header(std::ostream& out) {
  out << fmt::format("{:<12} {:<36} {:<22} {:<40} {:<16} {:<44} {:>6} {:>9} {}\n", "TIME", "REQUEST ID", "ROUTE",
                     "PRIMARY POD", "PRIMARY", "MIRROR POD", "STATUS", "LATENCY", "OUTCOME");
}

// The primary's status and latency ("200 3.1ms"), "-" while it is unknown (still running, or gone
// from the trace).
std::string primary_answer(const nlohmann::json& o) {
  if (!o.contains("primary_status")) return "-";
  return fmt::format("{} {:.1f}ms", o.value("primary_status", 0), o.value("primary_latency_ms", 0.0));
}

void print_row(std::ostream& out, const nlohmann::json& o) {
  std::string outcome = o.value("outcome", "");
  std::string reason = o.value("reason", "");
  int status = o.value("status", 0);
  out << fmt::format("{:<12} {:<36} {:<22} {:<40} {:<16} {:<44} {:>6} {:>7.1f}ms {}{}\n",
                     format_time(o.value("time_us", 0L)), o.value("request_id", ""), o.value("route", ""),
                     pod_or_host(o, "primary_pod", "primary_host"), primary_answer(o),
                     pod_or_host(o, "mirror_pod", "mirror_host"), status ? std::to_string(status) : "-",
                     o.value("latency_ms", 0.0), outcome, reason.empty() ? "" : " (" + reason + ")");
}

}  // namespace

int run_mirrors_command(const MirrorsCommandOptions& options, std::ostream& out, std::ostream& err) {
  bool header_printed = false;
  const int64_t printed =
      follow_admin_ring(options, "mirrorgate mirrors", "/mirrors", "mirrors", out, err, [&](const nlohmann::json& o) {
        if (options.json) {
          out << o.dump() << "\n";
          return;
        }
        if (!header_printed) print_header(out);
        header_printed = true;
        print_row(out, o);
      });
  if (printed < 0) return 1;
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
