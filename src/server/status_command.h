#pragma once
// `mirrorgate status -c PATH`: the status mirrorgate computes for the objects of a config, with the
// objects it would leave out. It loads object by object, as the running gateway does.

#include <ostream>
#include <string>

namespace mg::server {

// Prints the status of the objects that load as multi-document YAML to out, then to err one
// "warning: ..." line per translation warning and one "error: ..." line per object (or file) left out.
// Returns 1 when anything was left out, else 0.
int run_status_command(const std::string& config_path, std::ostream& out, std::ostream& err);

}  // namespace mg::server
