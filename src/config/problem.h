#pragma once
// An object (or a whole file) that a load left out, and why. Providers report these next to the objects
// they deliver, so one bad object never takes the rest of the config down.

#include <string>

namespace mg::config {

struct ConfigProblem {
  // One line: "<file>:<line>: <Kind> <namespace>/<name>: <field path>: <problem>" (loader.h).
  std::string message;
  std::string file;  // where the object came from; empty for providers without files
  // Which object was left out; kind or name is empty when the object could not be identified (no kind,
  // no metadata.name).
  std::string kind;
  std::string namespace_;  // empty for cluster-scoped kinds
  std::string name;
  // The file could not be split into objects at all (not valid YAML, unreadable): every object it
  // held is left out.
  bool whole_file = false;
};

}  // namespace mg::config
