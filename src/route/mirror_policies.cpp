#include "route/mirror_policies.h"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <tuple>

#include "route/header_modifier.h"

namespace mg::route {
namespace {

constexpr std::string_view kGatewayGroup = "gateway.networking.k8s.io";

std::string id_of(const config::ObjectMeta& m) {
  return m.namespace_ + "/" + m.name;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : std::string(sep)) + p;
  return out;
}

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return s;
}

// "rules[1] (rule-a)": the field path a user can find in the route, and the name a sectionName uses.
std::string rule_label(const config::HTTPRoute& route, size_t i) {
  std::string s = "rules[" + std::to_string(i) + "]";
  if (route.rules[i].name) s += " (" + *route.rules[i].name + ")";
  return s;
}

bool has_mirror(const config::HTTPRouteRule& rule) {
  auto any = [](const std::vector<config::HTTPRouteFilter>& filters) {
    return std::any_of(filters.begin(), filters.end(),
                       [](const auto& f) { return f.type == "RequestMirror"; });
  };
  return any(rule.filters) || std::any_of(rule.backend_refs.begin(), rule.backend_refs.end(),
                                          [&](const auto& b) { return any(b.filters); });
}

// One targetRef's claim on one rule.
struct Claim {
  size_t policy = 0;     // index into ObjectSet::mirror_policies
  size_t target = 0;     // index into that policy's targetRefs
  bool section = false;  // the targetRef named this rule by sectionName
};

// What one targetRef came to across the rules it covers.
struct Tally {
  std::vector<std::string> won;   // rule labels
  std::vector<std::string> lost;  // "<rule> is governed by MirrorPolicy <winner>, <why>"
  bool mirrors = false;           // some rule it won has a RequestMirror filter
};

}  // namespace

std::string_view reason_name(PolicyTargetReason r) {
  switch (r) {
    case PolicyTargetReason::kAccepted:
      return "Accepted";
    case PolicyTargetReason::kTargetNotFound:
      return "TargetNotFound";
    case PolicyTargetReason::kConflicted:
      return "Conflicted";
    case PolicyTargetReason::kInvalid:
      return "Invalid";
  }
  return "Invalid";
}

std::vector<std::string> mirror_policy_problems(const config::MirrorPolicy& p) {
  std::vector<std::string> problems;
  if (!p.metadata.refused.empty()) problems.push_back(p.metadata.refused);
  if (p.request_header_modifier)
    make_header_modifier(*p.request_header_modifier, "spec.requestHeaderModifier", problems);
  if (p.max_body_size && p.max_bytes_in_flight && *p.max_body_size > *p.max_bytes_in_flight)
    problems.push_back("spec.maxBodySize: " + std::to_string(*p.max_body_size) +
                       " bytes is more than spec.maxBytesInFlight (" +
                       std::to_string(*p.max_bytes_in_flight) +
                       " bytes), so copies of a size between the two could never be sent");
  return problems;
}

MirrorSettings mirror_settings(const config::MirrorPolicy& p) {
  MirrorSettings s;
  s.policy = id_of(p.metadata);
  if (p.timeout) s.timeout = std::chrono::milliseconds(p.timeout->milliseconds);
  if (p.max_in_flight) s.max_in_flight = static_cast<uint32_t>(*p.max_in_flight);
  s.max_bytes_in_flight = p.max_bytes_in_flight;
  s.max_body_bytes = p.max_body_size;
  s.host_suffix = p.host_suffix.value_or("");
  if (p.request_header_modifier) {
    std::vector<std::string> problems;  // none: only valid policies get settings
    s.request_headers = make_header_modifier(*p.request_header_modifier, "", problems);
  }
  s.allowed_methods = p.allowed_methods;
  if (p.response_comparison) {
    const config::MirrorResponseComparison& c = *p.response_comparison;
    s.comparison.enabled = true;
    s.comparison.percent = static_cast<uint32_t>(c.percent);
    for (const auto& h : c.headers) s.comparison.headers.push_back(lowercase(h));
    s.comparison.ignore_json_paths = c.ignore_json_paths;
    if (c.max_body_size) s.comparison.max_body_bytes = *c.max_body_size;
  }
  return s;
}

MirrorPolicies::MirrorPolicies(const config::ObjectSet& objects) {
  const auto& policies = objects.mirror_policies;
  std::map<std::string, const config::HTTPRoute*> routes;
  for (const auto& r : objects.http_routes) routes.emplace(id_of(r.metadata), &r);

  // 1. Each policy's own validity, and the rules each of its targetRefs claims.
  std::vector<std::shared_ptr<const MirrorSettings>> settings;
  std::map<std::pair<std::string, size_t>, std::vector<Claim>> claims;  // (route, rule) -> claims
  for (size_t pi = 0; pi < policies.size(); ++pi) {
    const config::MirrorPolicy& p = policies[pi];
    const std::vector<std::string> problems = mirror_policy_problems(p);
    settings.push_back(problems.empty() ? std::make_shared<const MirrorSettings>(mirror_settings(p))
                                        : nullptr);
    MirrorPolicyOutcome out{&p, {}};
    for (size_t ti = 0; ti < p.target_refs.size(); ++ti) {
      const config::PolicyTargetReference& ref = p.target_refs[ti];
      PolicyTargetOutcome t{ref, PolicyTargetReason::kAccepted, ""};
      const std::string route_id = p.metadata.namespace_ + "/" + ref.name;
      const auto route = routes.find(route_id);
      if (!problems.empty()) {
        t = {ref, PolicyTargetReason::kInvalid, join(problems, "; ") + "; the policy is not applied"};
      } else if (ref.group != kGatewayGroup || ref.kind != "HTTPRoute" || route == routes.end()) {
        t = {ref, PolicyTargetReason::kTargetNotFound, "HTTPRoute " + route_id + " not found"};
      } else if (ref.section_name) {
        const auto& rules = route->second->rules;
        const auto rule = std::find_if(rules.begin(), rules.end(),
                                       [&](const auto& r) { return r.name == ref.section_name; });
        if (rule == rules.end())
          t = {ref, PolicyTargetReason::kTargetNotFound,
               "HTTPRoute " + route_id + " has no rule named \"" + *ref.section_name + "\""};
        else
          claims[{route_id, static_cast<size_t>(rule - rules.begin())}].push_back({pi, ti, true});
      } else {
        for (size_t r = 0; r < route->second->rules.size(); ++r)
          claims[{route_id, r}].push_back({pi, ti, false});
      }
      out.targets.push_back(std::move(t));
    }
    outcomes_.push_back(std::move(out));
  }

  // 2. One winner per rule (GEP-713 precedence); every other claim on it loses.
  auto rank = [&](const Claim& c) {
    return std::make_tuple(!c.section, policies[c.policy].metadata.creation_timestamp,
                           id_of(policies[c.policy].metadata));
  };
  auto why = [&](const Claim& winner, const Claim& loser) -> std::string {
    const std::string& created = policies[winner.policy].metadata.creation_timestamp;
    if (winner.section && !loser.section) return "which names that rule by sectionName";
    if (created != policies[loser.policy].metadata.creation_timestamp)
      return created.empty() ? "which has no creationTimestamp and so counts as older"
                             : "which is older (created " + created + ")";
    return "which comes first by namespace/name";
  };
  std::map<std::pair<size_t, size_t>, Tally> tallies;  // (policy, target) -> what it came to
  for (const auto& [rule_key, list] : claims) {
    const config::HTTPRoute& route = *routes.at(rule_key.first);
    const std::string label = rule_label(route, rule_key.second);
    const Claim winner = *std::min_element(list.begin(), list.end(),
                                           [&](const Claim& a, const Claim& b) { return rank(a) < rank(b); });
    by_rule_[rule_key] = settings[winner.policy];
    for (const Claim& c : list) {
      Tally& t = tallies[{c.policy, c.target}];
      if (c.policy == winner.policy) {
        t.won.push_back(label);
        t.mirrors |= has_mirror(route.rules[rule_key.second]);
      } else {
        t.lost.push_back(label + " is governed by MirrorPolicy " + id_of(policies[winner.policy].metadata) +
                         ", " + why(winner, c));
      }
    }
  }

  // 3. Accepted where a targetRef governs at least one rule, Conflicted where it governs none.
  for (size_t pi = 0; pi < outcomes_.size(); ++pi) {
    for (size_t ti = 0; ti < outcomes_[pi].targets.size(); ++ti) {
      PolicyTargetOutcome& t = outcomes_[pi].targets[ti];
      const auto tally = tallies.find({pi, ti});
      if (t.reason != PolicyTargetReason::kAccepted || tally == tallies.end()) continue;
      const Tally& tl = tally->second;
      const std::string route_id = policies[pi].metadata.namespace_ + "/" + t.ref.name;
      if (tl.won.empty()) {
        t.reason = PolicyTargetReason::kConflicted;
        t.message = "not applied: " + join(tl.lost, "; ");
        continue;
      }
      t.message = "applies to the mirrors of HTTPRoute " + route_id + " " + join(tl.won, ", ");
      if (!tl.lost.empty()) t.message += "; " + join(tl.lost, "; ");
      if (!tl.mirrors)
        t.message += "; none of these rules has a RequestMirror filter, so nothing changes yet";
    }
  }
}

std::shared_ptr<const MirrorSettings> MirrorPolicies::for_rule(const std::string& route,
                                                               size_t rule_index) const {
  const auto it = by_rule_.find({route, rule_index});
  return it == by_rule_.end() ? nullptr : it->second;
}

}  // namespace mg::route
