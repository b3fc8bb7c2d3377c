#include "proxy/filters/header_modifier.h"

#include <algorithm>

#include "http/syntax.h"

namespace mg::proxy::filters {

namespace {
void remove_named(std::vector<http::Header>& headers, std::string_view name) {
  std::erase_if(headers, [&](const http::Header& h) { return http::iequals(h.name, name); });
}
}  // namespace

void set_header(std::vector<http::Header>& headers, std::string_view name, std::string_view value) {
  // Keep the position of the first line of that name, so a replaced header stays where it was.
  auto first = std::find_if(headers.begin(), headers.end(),
                            [&](const http::Header& h) { return http::iequals(h.name, name); });
  if (first == headers.end()) {
    headers.push_back({name, value});
    return;
  }
  first->name = name;
  first->value = value;
  headers.erase(std::remove_if(std::next(first), headers.end(),
                               [&](const http::Header& h) { return http::iequals(h.name, name); }),
                headers.end());
}

void apply_header_modifier(const route::HeaderModifier& modifier, std::vector<http::Header>& headers) {
  for (const auto& name : modifier.remove) remove_named(headers, name);
  for (const auto& [name, value] : modifier.set) set_header(headers, name, value);
  for (const auto& [name, value] : modifier.add) headers.push_back({name, value});
}

}  // namespace mg::proxy::filters
