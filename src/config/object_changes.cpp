#include "config/object_changes.h"

#include <algorithm>

namespace mg::config {
namespace {

template <typename T>
bool same_object(const T& a, const T& b) {
  if (a == b) return true;
  if (a.source == b.source) return false;
  T b_at_a = b;  // rare: only objects that differ, to see whether their place is all that does
  b_at_a.source = a.source;
  return a == b_at_a;
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
