#pragma once

// Gateway API objects -> RouteTable. A pure function: no I/O, no logging; everything a person should
// know about (unsupported listener, missing Service, refused cross-namespace reference) comes back
// as one-line warnings in RouteTable::warnings for the caller to log or show. Rules the spec calls invalid
// (forbidden filter combinations, ReplacePrefixMatch without a single PathPrefix match, backendRequest
// longer than request...) are kept but answer 500, and are listed in RouteTable::route_problems for status.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/objects.h"
#include "route/route_table.h"

namespace mg::route {

inline constexpr std::string_view kDefaultControllerName = "mirrorgate.io/gateway-controller";

std::shared_ptr<const RouteTable> translate(const config::ObjectSet&,
                                            std::string_view controller_name = kDefaultControllerName);

// The warnings translate() would produce, for `mirrorgate --check`-style use.
std::vector<std::string> translation_warnings(const config::ObjectSet&,
                                              std::string_view controller_name = kDefaultControllerName);

// Gateway API hostname intersection of a listener hostname (empty = any) and a route hostname (empty =
// any). Returns the effective hostname ("" = any) or nullopt when they do not intersect.
std::optional<std::string> intersect_hostnames(std::string_view listener, std::string_view route);

// Whether the labels satisfy a Kubernetes label selector (matchLabels and matchExpressions).
bool selector_matches(const config::LabelSelector&, const std::map<std::string, std::string>& labels);

}  // namespace mg::route
