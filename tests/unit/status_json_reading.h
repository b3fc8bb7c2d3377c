#pragma once
// Reading route::status_json()'s {"items": [...]} in tests: one object's status, one condition.

#include <string_view>

#include <nlohmann/json.hpp>

namespace mg::test {

// The status of the object of this kind and name; null when it has none.
inline nlohmann::json object_status(const nlohmann::json& status, std::string_view kind, std::string_view name) {
  for (const auto& i : status["items"])
    if (i["kind"] == kind && i["metadata"]["name"] == name) return i["status"];
  return nullptr;
}

inline nlohmann::json listener_status(const nlohmann::json& status, std::string_view gateway,
                                      std::string_view listener) {
  const nlohmann::json gateway_status = object_status(status, "Gateway", gateway);  // outlives the loop
  if (!gateway_status.is_object() || !gateway_status.contains("listeners")) return nullptr;
  for (const auto& l : gateway_status["listeners"])
    if (l["name"] == listener) return l;
  return nullptr;
}

inline nlohmann::json condition(const nlohmann::json& conditions, std::string_view type) {
  for (const auto& c : conditions)
    if (c["type"] == type) return c;
  return nullptr;
}

}  // namespace mg::test
