#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/objects.h"

namespace mg::route {

// RequestHeaderModifier / ResponseHeaderModifier. Names keep the spelling written in the route (the
// wire form a user expects); comparisons are case-insensitive.
struct HeaderModifier {
  std::vector<std::pair<std::string, std::string>> set;  // replace (or add when absent)
  std::vector<std::pair<std::string, std::string>> add;  // append another line
  std::vector<std::string> remove;                       // lowercase
  bool empty() const { return set.empty() && add.empty() && remove.empty(); }
};

// The configured header filter as the data plane applies it. Only one action per header name
// (case-insensitive) across set, add and remove is allowed: the spec calls anything else invalid, and
// each offender is appended to `invalid` as "<at>: <problem>". Shared by HTTPRoute filters and
// MirrorPolicy, so both accept exactly the same edits.
HeaderModifier make_header_modifier(const config::HTTPHeaderFilter& in, const std::string& at,
                                    std::vector<std::string>& invalid);

}  // namespace mg::route
