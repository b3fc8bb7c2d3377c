#include "config/object_changes.h"

#include <algorithm>

namespace mg::config {
namespace {

template <typename T>
bool same_object(const T& a, const T& b) {
  if (a == b) return true;
  if (a.source == b.source && a.metadata.resource_version == b.metadata.resource_version) return false;
  // Rare: only objects that differ, to see whether their place, or their resourceVersion (which the
  // API server bumps on every write, our own status writes included), is all that does.
  T b_as_a = b;
  b_as_a.source = a.source;
  b_as_a.metadata.resource_version = a.metadata.resource_version;
  return a == b_as_a;
}

template <typename T>
bool same_objects(const std::vector<T>& a, const std::vector<T>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), same_object<T>);
}

}  // namespace

std::vector<std::string_view> changed_kinds(const ObjectSet& before, const ObjectSet& after) {
  std::vector<std::string_view> kinds;
  for_each_kind([&](std::string_view kind, auto member) {
    if (!same_objects(before.*member, after.*member)) kinds.push_back(kind);
  });
  return kinds;
}

}  // namespace mg::config
