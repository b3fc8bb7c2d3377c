#include "mirror/mismatch_log.h"

#include <nlohmann/json.hpp>

namespace mg::mirror {

std::string mismatches_json(std::vector<Mismatch> mismatches, const TraceQuery& query) {
  select_entries(mismatches, query);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : mismatches) {
    list.push_back({{"time_us", m.time_us},
                    {"request_id", m.request_id},
                    {"route", m.route},
                    {"mirror_backend", m.mirror_backend},
                    {"primary_host", m.primary_host},
                    {"primary_pod", m.primary_pod},
                    {"mirror_host", m.mirror_host},
                    {"mirror_pod", m.mirror_pod},
                    {"primary_status", m.primary_status},
                    {"mirror_status", m.mirror_status},
                    {"differences", m.differences},
                    {"note", m.note}});
  }
  // Differences quote response bytes, which need not be UTF-8: replace rather than throw.
  return nlohmann::json{{"mismatches", list}}.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace mg::mirror
