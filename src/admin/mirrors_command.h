#pragma once
// `mirrorgate mirrors`: was this request mirrored, to which pod, and what did that pod answer?
// Reads a running gateway's /mirrors and prints one line per mirror copy.

#include <iosfwd>
#include <string>

namespace mg::admin {

struct MirrorsCommandOptions {
  std::string admin = "127.0.0.1:9901";
  std::string admin_token_file;  // empty: send no token
  std::string request_id;  // empty: all recent copies
  size_t limit = 50;
  bool follow = false;     // keep printing new outcomes (until interrupted, or `follow_seconds`)
  double follow_seconds = 0;  // 0: follow forever
  bool json = false;
  bool diff = false;  // show response mismatches (/mirrors/diff) instead of copies
};

int run_mirrors_command(const MirrorsCommandOptions& options, std::ostream& out, std::ostream& err);

}  // namespace mg::admin
