#pragma once

// Reads Kubernetes manifests (as a user would `kubectl apply` them) into a validated ObjectSet.
// Validation is as strict as the API server's schema so that a typo is reported with a message naming
// the file, line, object and field, instead of silently routing differently. Each object is decoded on
// its own: like the API server refusing one invalid manifest, a bad object is left out and reported,
// and every other object still loads.

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/objects.h"
#include "config/problem.h"

namespace YAML {
class Node;
}

namespace mg::config {

// what() is one line: "<file>:<line>: <Kind> <namespace>/<name>: <field path>: <problem>".
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The valid objects, and one problem per object (or file) left out, in input order.
struct LoadResult {
  ObjectSet objects;
  std::vector<ConfigProblem> problems;
};

// PATH is a YAML file (multi-document) or a directory whose *.yaml / *.yml files are read in name order.
// Invalid objects are left out and reported; a file that is not valid YAML (or cannot be read) is
// reported once, with the line of the syntax error, and all its objects are left out. Throws
// ConfigError only when PATH itself does not exist.
LoadResult load_path_partial(const std::filesystem::path& path);

// Same as load_path_partial for in-memory text; source_name is used in messages.
LoadResult load_string_partial(std::string_view yaml, std::string_view source_name);

// One object already parsed (built in code, as the Kubernetes provider builds it from the API server's
// JSON without a YAML parse): the same checks, and messages without a line when the node has no mark.
// Scalars that were strings in the source must carry the tag "!" (as quoted YAML scalars do), others "?".
LoadResult load_node_partial(const YAML::Node& object, std::string_view source_name);

// All or nothing: as the *_partial functions, but the first problem is thrown as a ConfigError. For
// tools and tests that want one config exactly as written.
ObjectSet load_path(const std::filesystem::path& path);
ObjectSet load_string(std::string_view yaml, std::string_view source_name);

// The kinds the loader decodes into an ObjectSet (not those it accepts and ignores), sorted.
std::vector<std::string> decoded_kinds();

// Parses a Gateway API Duration ("1h", "500ms", "1m30s"); returns false when malformed.
bool parse_duration(std::string_view text, int64_t& milliseconds);

// Parses a Kubernetes resource quantity used for byte sizes: a non-negative integer with an optional
// binary (Ki, Mi, Gi, Ti) or decimal (k, M, G, T) suffix, e.g. "65536", "64Ki", "8Mi". False when
// malformed or above 2^62.
bool parse_byte_quantity(std::string_view text, uint64_t& bytes);

}  // namespace mg::config
