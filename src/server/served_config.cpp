#include "server/served_config.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/generations.h"
#include "config/object_changes.h"
#include "route/translator.h"

namespace mg::server {

ServedConfig next_served_config(const ServedConfig* current, config::ObjectSet objects,
                                route::TranslateOptions options) {
  // Generations first: an object whose spec did not change then compares equal, metadata included.
  if (current) config::carry_generations(*current->objects, objects);
  auto latest = std::make_shared<const config::ObjectSet>(std::move(objects));
  const std::vector<std::string_view> only_slices{"EndpointSlice"};
  if (current && config::changed_kinds(*current->objects, *latest) == only_slices)
    return {latest, current->table, route::build_cluster_set(*current->table, *latest)};
  // With the previous table, a condition that did not change keeps its lastTransitionTime.
  options.previous = current ? current->table.get() : nullptr;
  auto table = route::translate(*latest, options);
  auto clusters = route::build_cluster_set(*table, *latest);
  return {std::move(latest), std::move(table), std::move(clusters)};
}

}  // namespace mg::server
