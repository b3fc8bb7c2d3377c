#include "proxy/filters/path_rewrite.h"

namespace mg::proxy::filters {

std::string rewrite_target(std::string_view target, const route::PathModifier& modifier,
                           std::string_view matched_prefix) {
  size_t query_start = target.find('?');
  std::string_view path = target.substr(0, query_start);
  std::string_view query = query_start == std::string_view::npos ? std::string_view{} : target.substr(query_start);
  std::string out;
  switch (modifier.kind) {
    case route::PathModifierKind::kNone:
      return std::string(target);
    case route::PathModifierKind::kReplaceFullPath:
      out = modifier.value;
      break;
    case route::PathModifierKind::kReplacePrefixMatch: {
      // Segment-wise: "/prefix/one" + replacement "/one" turns "/prefix/one/two" into "/one/two"; a
      // replacement "/" strips the prefix ("/strip/three" -> "/three", "/strip" -> "/").
      std::string_view remainder = path.size() >= matched_prefix.size() ? path.substr(matched_prefix.size()) : "";
      std::string_view replacement = modifier.value;
      while (!replacement.empty() && replacement.back() == '/') replacement.remove_suffix(1);
      out.append(replacement).append(remainder);
      break;
    }
  }
  if (out.empty() || out.front() != '/') out.insert(out.begin(), '/');
  out.append(query);
  return out;
}

}  // namespace mg::proxy::filters
