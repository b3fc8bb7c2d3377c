#include "config/previous_versions.h"

#include <algorithm>
#include <string_view>

namespace mg::config {
namespace {

template <typename T>
bool has_object(const std::vector<T>& list, std::string_view ns, std::string_view name) {
  return std::any_of(list.begin(), list.end(),
                     [&](const T& o) { return o.metadata.namespace_ == ns && o.metadata.name == name; });
}

// Copies the objects of `previous` that `problem` left out of `next`; returns how many.
template <typename T>
size_t keep(std::string_view kind, const std::vector<T>& previous, std::vector<T>& next,
            const ConfigProblem& problem) {
  size_t kept = 0;
  for (const T& o : previous) {
    const ObjectMeta& m = o.metadata;
    const bool named = problem.whole_file ? o.source.file == problem.file
                                          : kind == problem.kind && m.namespace_ == problem.namespace_ &&
                                                m.name == problem.name;
    if (!named || has_object(next, m.namespace_, m.name)) continue;
    next.push_back(o);
    ++kept;
  }
  return kept;
}

}  // namespace

void keep_previous_versions(const ObjectSet& previous, ObjectSet& next,
                            std::vector<ConfigProblem>& problems) {
  for (auto& problem : problems) {
    if (!problem.whole_file && (problem.kind.empty() || problem.name.empty())) continue;  // not identified
    size_t kept = 0;
    for_each_kind([&](std::string_view kind, auto member) {
      kept += keep(kind, previous.*member, next.*member, problem);
    });
    if (kept > 0) problem.message += " (previous version kept)";
  }
}

}  // namespace mg::config
