#pragma once

// Which MirrorPolicy governs the mirrors of which HTTPRoute rule, and what each policy's targetRefs came
// to (for its GEP-713 status). One place decides both, so the settings the data plane uses and the
// status `mirrorgate status` shows can never disagree. A pure function of the objects.
//
// Rules (docs/config.md, "MirrorPolicy"): a policy applies to HTTPRoutes in its own namespace; a
// targetRef without sectionName covers every rule of the route, with sectionName the rule of that
// name. When several policies cover one rule, a sectionName target beats a whole-route one; among
// equals the oldest creationTimestamp (absent counts as oldest), then namespace/name, wins. The whole
// winning policy applies (no field-by-field merge); a policy that wins no rule of a target is
// Conflicted there. A policy with a semantic problem (mirror_policy_problems) is Invalid and never
// applied.

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/objects.h"
#include "route/mirror_settings.h"

namespace mg::route {

// GEP-713 Accepted condition reasons of one target.
enum class PolicyTargetReason { kAccepted, kTargetNotFound, kConflicted, kInvalid };

std::string_view reason_name(PolicyTargetReason);

struct PolicyTargetOutcome {
  config::PolicyTargetReference ref;
  PolicyTargetReason reason = PolicyTargetReason::kAccepted;
  std::string message;
};

struct MirrorPolicyOutcome {
  const config::MirrorPolicy* policy = nullptr;  // into the ObjectSet given to MirrorPolicies
  std::vector<PolicyTargetOutcome> targets;      // one per spec.targetRefs entry, in order
};

// Problems that make a policy Invalid, each "<field path>: <problem>"; empty when it can be applied.
// The loader already rejects whatever one field alone gets wrong; these are combinations.
std::vector<std::string> mirror_policy_problems(const config::MirrorPolicy&);

// The settings a valid policy gives its mirrors.
MirrorSettings mirror_settings(const config::MirrorPolicy&);

class MirrorPolicies {
 public:
  explicit MirrorPolicies(const config::ObjectSet& objects);

  // The settings for the mirrors of rule `rule_index` of HTTPRoute "namespace/name"; null when no
  // policy applies (the command-line defaults do). One shared instance per policy.
  std::shared_ptr<const MirrorSettings> for_rule(const std::string& route, size_t rule_index) const;

  // One per MirrorPolicy, in ObjectSet order.
  const std::vector<MirrorPolicyOutcome>& outcomes() const { return outcomes_; }

 private:
  std::map<std::pair<std::string, size_t>, std::shared_ptr<const MirrorSettings>> by_rule_;
  std::vector<MirrorPolicyOutcome> outcomes_;
};

}  // namespace mg::route
