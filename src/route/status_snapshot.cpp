#include "route/status_snapshot.h"

#include <map>
#include <string>
#include <tuple>

namespace mg::route {
namespace {

std::string ref_key(const ObjectRef& r) {
  std::string out = r.group + "/" + r.kind + "/" + r.namespace_ + "/" + r.name;
  if (r.section_name) out += "#" + *r.section_name;
  if (r.port) out += ":" + std::to_string(*r.port);
  return out;
}

// Calls f(owner, conditions) for every condition list, where owner names the list uniquely within the
// snapshot: the object, then the listener, parentRef or ancestorRef (with its position among equals).
template <typename Snapshot, typename F>
void for_each_condition_list(Snapshot& s, F f) {
  std::map<std::string, int> seen;
  auto visit = [&](std::string owner, auto& conditions) {
    const int n = seen[owner]++;
    if (n > 0) owner += " [" + std::to_string(n) + "]";
    f(owner, conditions);
  };
  for (auto& gc : s.gateway_classes) visit(ref_key(gc.object), gc.conditions);
  for (auto& gw : s.gateways) {
    visit(ref_key(gw.object), gw.conditions);
    for (auto& l : gw.listeners) visit(ref_key(gw.object) + " listener " + l.name, l.conditions);
  }
  for (auto* routes : {&s.http_routes, &s.tls_routes})
    for (auto& r : *routes)
      for (auto& p : r.parents) visit(ref_key(r.object) + " parent " + ref_key(p.parent_ref), p.conditions);
  for (auto& p : s.policies)
    for (auto& a : p.ancestors)
      visit(ref_key(p.object) + " ancestor " + ref_key(a.ancestor_ref), a.conditions);
}

bool same(const Condition& a, const Condition& b) {
  return std::tie(a.type, a.status, a.reason, a.message, a.observed_generation) ==
         std::tie(b.type, b.status, b.reason, b.message, b.observed_generation);
}

}  // namespace

void carry_transition_times(StatusSnapshot& next, const StatusSnapshot* previous) {
  std::map<std::string, const Condition*> before;  // "owner|type"
  if (previous)
    for_each_condition_list(*previous, [&](const std::string& owner, const std::vector<Condition>& cs) {
      for (const auto& c : cs) before.emplace(owner + "|" + c.type, &c);
    });
  for_each_condition_list(next, [&](const std::string& owner, std::vector<Condition>& cs) {
    for (auto& c : cs) {
      const auto it = before.find(owner + "|" + c.type);
      const bool kept =
          it != before.end() && same(*it->second, c) && !it->second->last_transition_time.empty();
      c.last_transition_time = kept ? it->second->last_transition_time : next.time;
    }
  });
}

}  // namespace mg::route
