#pragma once

// Status (status.h) as `mirrorgate status` prints it: multi-document YAML, one document per object.

#include <nlohmann/json.hpp>
#include <string>

namespace mg::route {

// The items of {"items": [...]} (or a bare list) as multi-document YAML, kubectl's spelling (keys sorted,
// "True"/"False" and times quoted so they stay strings).
std::string status_as_yaml(const nlohmann::json& items);

}  // namespace mg::route
