#include "admin/mirror_diff_command.h"

#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "admin/ring_follower.h"

namespace mg::admin {
namespace {

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
  bool first = true;
  auto print = [&](const nlohmann::json& m) {
    if (options.json) {
      out << m.dump() << "\n";
      return;
    }
    if (!first) out << "\n";
    first = false;
    print_mismatch(out, m);
  };
  const int64_t printed =
      follow_admin_ring(options, "mirrorgate mirrors --diff", "/mirrors/diff", "mismatches", out, err, print);
  if (printed < 0) return 1;
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
