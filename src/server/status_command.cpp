#include "server/status_command.h"

#include <exception>

#include "config/loader.h"
#include "route/cluster_set.h"
#include "route/gateway_status_options.h"
#include "route/status.h"
#include "route/status_yaml.h"
#include "route/translator.h"

namespace mg::server {

int run_status_command(const std::string& config_path, std::ostream& out, std::ostream& err) {
  config::LoadResult loaded;
  try {
    loaded = config::load_path_partial(config_path);
  } catch (const std::exception& e) {  // the path does not exist, or the filesystem failed
    err << "error: " << e.what() << "\n";
    return 1;
  }
  const auto table = route::translate(loaded.objects);
  const auto clusters = route::build_cluster_set(*table, loaded.objects);
  out << route::status_as_yaml(route::status_json(*table, route::gateway_status_options()));
  for (const auto& w : table->warnings) err << "warning: " << w << "\n";
  for (const auto& w : clusters->warnings) err << "warning: " << w << "\n";
  for (const auto& p : loaded.problems) err << "error: " << p.message << "\n";
  return loaded.problems.empty() ? 0 : 1;
}

}  // namespace mg::server
