#pragma once
// Path changes of URLRewrite and RequestRedirect (ReplaceFullPath, ReplacePrefixMatch). The query
// string is kept as it was.

#include <string>
#include <string_view>

#include "route/route_table.h"

namespace mg::proxy::filters {

// `target` is the request-target (path + optional query); `matched_prefix` is the PathPrefix value that
// selected the rule, without a trailing slash. Returns the new request-target.
std::string rewrite_target(std::string_view target, const route::PathModifier& modifier,
                           std::string_view matched_prefix);

}  // namespace mg::proxy::filters
