#pragma once
// `mirrorgate mirrors --diff`: which mirror responses differed from the primary's, and how. Reads a
// running gateway's /mirrors/diff and prints each mismatch with its differences, one per line.

#include <iosfwd>

#include "admin/mirrors_command.h"

namespace mg::admin {

// Uses admin, request_id, limit, follow, follow_seconds and json of the `mirrors` options. Exit status:
// 0, 1 when the admin listener cannot be asked, 3 when --request-id names a request with no mismatch.
int run_mirror_diff_command(const MirrorsCommandOptions& options, std::ostream& out, std::ostream& err);

}  // namespace mg::admin
