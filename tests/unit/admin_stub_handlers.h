#pragma once
// Admin handlers that answer without a gateway behind them, for tests of the admin listener itself.

#include <string>

#include "admin/admin_server.h"

namespace mg::test {

// Ready; /metrics answers `metrics`, /topology `topology`, every JSON endpoint else "{}".
inline admin::AdminHandlers stub_admin_handlers(std::string metrics = {}, std::string topology = "{}") {
  return {.ready = [] { return true; },
          .metrics = [metrics](stats::ExpositionFormat) { return metrics; },
          .status = [] { return std::string("{}"); },
          .config_dump = [] { return std::string("{}"); },
          .mirrors = [](std::string_view) { return std::string("{}"); },
          .mirror_diff = [](std::string_view) { return std::string("{}"); },
          .topology = [topology] { return topology; }};
}

}  // namespace mg::test
