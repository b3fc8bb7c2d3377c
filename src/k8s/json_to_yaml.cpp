#include "k8s/json_to_yaml.h"

#include <string>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace mg::k8s {

YAML::Node yaml_of(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object: {
      YAML::Node map(YAML::NodeType::Map);
      for (const auto& [key, item] : value.items()) {
        YAML::Node k(key);
        k.SetTag("!");
        map.force_insert(k, yaml_of(item));  // JSON keys are unique: no lookup needed
      }
      return map;
    }
    case nlohmann::json::value_t::array: {
      YAML::Node list(YAML::NodeType::Sequence);
      for (const auto& item : value) list.push_back(yaml_of(item));
      return list;
    }
    case nlohmann::json::value_t::string: {
      YAML::Node s(value.get_ref<const std::string&>());
      s.SetTag("!");
      return s;
    }
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      return YAML::Node(YAML::NodeType::Null);
    default: {  // numbers and booleans, written as JSON writes them
      YAML::Node plain(value.dump());
      plain.SetTag("?");
      return plain;
    }
  }
}

}  // namespace mg::k8s
