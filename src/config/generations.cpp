#include "config/generations.h"

#include <map>
#include <string>
#include <utility>

namespace mg::config {
namespace {

template <typename T>
void carry(const std::vector<T>& previous, std::vector<T>& next) {
  std::map<std::pair<std::string_view, std::string_view>, const ObjectMeta*> before;
  for (const auto& o : previous) before[{o.metadata.namespace_, o.metadata.name}] = &o.metadata;
  for (auto& o : next) {
    ObjectMeta& m = o.metadata;
    if (m.generation_given) continue;
    const auto it = before.find({m.namespace_, m.name});
    if (it == before.end()) continue;  // new: the loader's 1
    m.generation = it->second->generation + (it->second->spec_fingerprint != m.spec_fingerprint ? 1 : 0);
  }
}

}  // namespace

void carry_generations(const ObjectSet& previous, ObjectSet& next) {
  for_each_kind([&](std::string_view, auto member) { carry(previous.*member, next.*member); });
}

}  // namespace mg::config
