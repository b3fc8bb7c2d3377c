#pragma once

// The Gateway API status of one translation: every condition of every object status lists, decided by
// the translator (status_conditions.h) from the same rules it routes by, and stored in the RouteTable
// it returns. Serializers (status.h, status_yaml.h) only print it; nothing re-derives a condition.
//
// lastTransitionTime is per condition: a condition whose type, status, reason, message and
// observedGeneration equal those of the previous translation's condition of the same object (and the
// same listener, parentRef or ancestorRef) keeps that one's time; a new or changed one gets the time of
// this translation (carry_transition_times).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/objects.h"

namespace mg::route {

// One metav1.Condition.
struct Condition {
  std::string type;
  bool status = true;
  std::string reason;
  std::string message;
  int64_t observed_generation = 0;
  std::string last_transition_time;  // RFC 3339, to the second
};

struct ObjectRef {  // the metadata status prints, and a parentRef/ancestorRef
  std::string group;
  std::string kind;
  std::string namespace_;  // empty for cluster-scoped objects
  std::string name;
  std::optional<std::string> section_name;
  std::optional<int32_t> port;
  int64_t generation = 0;  // metadata.generation of a listed object; unused in references
};

struct GatewayClassStatus {
  ObjectRef object;
  std::vector<Condition> conditions;  // Accepted
};

struct ListenerStatus {
  std::string name;
  std::vector<ObjectRef> supported_kinds;  // group and kind only
  size_t attached_routes = 0;
  std::vector<Condition> conditions;  // Accepted, Programmed, ResolvedRefs, Conflicted
};

struct GatewayStatus {
  ObjectRef object;
  std::vector<config::GatewayAddress> addresses;  // status.addresses; empty: not assigned
  std::vector<Condition> conditions;   // Accepted, Programmed
  std::vector<ListenerStatus> listeners;
};

struct RouteParentStatus {
  ObjectRef parent_ref;  // as written, with group, kind and namespace filled in
  // The Gateway does not exist: the entry is shown only where every object is ours (files).
  bool missing_gateway = false;
  std::vector<Condition> conditions;  // Accepted, ResolvedRefs
};

struct RouteStatus {  // HTTPRoute and TLSRoute: object.kind says which
  ObjectRef object;
  std::vector<RouteParentStatus> parents;
};

struct PolicyAncestorStatus {
  ObjectRef ancestor_ref;
  std::vector<Condition> conditions;  // Accepted
};

struct PolicyStatus {  // GEP-713, for MirrorPolicy and ClientTrafficPolicy
  ObjectRef object;    // kind says which
  std::vector<PolicyAncestorStatus> ancestors;
};

struct StatusSnapshot {
  std::string controller_name;
  std::string time;                                 // of the translation: what new and changed conditions got
  std::vector<GatewayClassStatus> gateway_classes;  // ours, in object order
  std::vector<GatewayStatus> gateways;              // of our classes, in object order
  std::vector<RouteStatus> http_routes;             // all, in object order
  std::vector<RouteStatus> tls_routes;              // all, in object order
  std::vector<PolicyStatus> policies;               // MirrorPolicies, then ClientTrafficPolicies
};

// Gives each condition of `next` the lastTransitionTime of its unchanged predecessor in `previous`
// (null: none), else next.time.
void carry_transition_times(StatusSnapshot& next, const StatusSnapshot* previous);

}  // namespace mg::route
