#pragma once
// What build this is, for `--version` and the startup line: the project's version and the git commit
// the build was configured from (CMake fills both in; "unknown" outside a git checkout).

#include <string_view>

namespace mg {

std::string_view version();
std::string_view build_commit();

}  // namespace mg
