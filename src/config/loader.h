#pragma once

// Reads Kubernetes manifests (as a user would `kubectl apply` them) into a validated ObjectSet.
// Validation is as strict as the API server's schema so that a typo fails at start-up with a message
// naming the file, line, object and field, instead of silently routing differently.

#include <filesystem>
#include <stdexcept>
#include <string_view>

#include "config/objects.h"

namespace mg::config {

// what() is one line: "<file>:<line>: <Kind> <namespace>/<name>: <field path>: <problem>".
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// PATH is a YAML file (multi-document) or a directory whose *.yaml / *.yml files are read in name order.
ObjectSet load_path(const std::filesystem::path& path);

// Same as load_path for in-memory text; source_name is used in error messages.
ObjectSet load_string(std::string_view yaml, std::string_view source_name);

// Parses a Gateway API Duration ("1h", "500ms", "1m30s"); returns false when malformed.
bool parse_duration(std::string_view text, int64_t& milliseconds);

// Parses a Kubernetes resource quantity used for byte sizes: a non-negative integer with an optional
// binary (Ki, Mi, Gi, Ti) or decimal (k, M, G, T) suffix, e.g. "65536", "64Ki", "8Mi". False when
// malformed or above 2^62.
bool parse_byte_quantity(std::string_view text, uint64_t& bytes);

}  // namespace mg::config
