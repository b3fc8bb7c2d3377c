#pragma once
// RequestHeaderModifier / ResponseHeaderModifier applied to a header list of views. Values added by the
// filter are views into the pinned route table, so nothing is copied.

#include <vector>

#include "http/message.h"
#include "route/route_table.h"

namespace mg::proxy::filters {

// Order per the Gateway API: remove, then set (replacing every line of that name), then add.
void apply_header_modifier(const route::HeaderModifier& modifier, std::vector<http::Header>& headers);

// Removes every header named `name` (case-insensitive) and appends one line with `value`.
void set_header(std::vector<http::Header>& headers, std::string_view name, std::string_view value);

}  // namespace mg::proxy::filters
