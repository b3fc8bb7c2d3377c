#include "route/header_modifier.h"

#include <algorithm>
#include <set>

namespace mg::route {
namespace {

std::string to_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return s;
}

}  // namespace

HeaderModifier make_header_modifier(const config::HTTPHeaderFilter& in, const std::string& at,
                                    std::vector<std::string>& invalid) {
  HeaderModifier out;
  std::set<std::string> seen;
  auto once = [&](const std::string& name) {
    if (!seen.insert(to_lower(name)).second)
      invalid.push_back(at + ": header " + name + " has more than one action (set, add, remove)");
  };
  for (const auto& h : in.set) {
    once(h.name);
    out.set.emplace_back(h.name, h.value);
  }
  for (const auto& h : in.add) {
    once(h.name);
    out.add.emplace_back(h.name, h.value);
  }
  for (const auto& name : in.remove) {
    once(name);
    out.remove.push_back(to_lower(name));
  }
  return out;
}

}  // namespace mg::route
