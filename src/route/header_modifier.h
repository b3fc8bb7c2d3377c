#pragma once

#include <string>
#include <utility>
#include <vector>

namespace mg::route {

// RequestHeaderModifier / ResponseHeaderModifier. Names keep the spelling written in the route (the
// wire form a user expects); comparisons are case-insensitive.
struct HeaderModifier {
  std::vector<std::pair<std::string, std::string>> set;  // replace (or add when absent)
  std::vector<std::pair<std::string, std::string>> add;  // append another line
  std::vector<std::string> remove;                       // lowercase
  bool empty() const { return set.empty() && add.empty() && remove.empty(); }
};

}  // namespace mg::route
