#pragma once
// An API server object (JSON) as the YAML node the loader decodes, built directly: no text and no YAML
// parse, which was half the cost of decoding an object as it arrives. Strings carry the tag a quoted
// YAML scalar has ("!"), numbers and booleans the plain one ("?"), so that the loader's type checks read
// them as it reads a manifest (config/loader.h, load_node_partial).

#include <nlohmann/json_fwd.hpp>

namespace YAML {
class Node;
}

namespace mg::k8s {

YAML::Node yaml_of(const nlohmann::json& value);

}  // namespace mg::k8s
