#include "route/status_command.h"

#include <exception>
#include <set>

#include "config/loader.h"
#include "route/supported_features.h"
#include "route/translator.h"

namespace mg::route {

StatusOptions gateway_status_options(const config::ObjectSet& objects) {
  StatusOptions options;
  for (const auto f : route::kSupportedFeatures) options.supported_features.emplace_back(f);
  std::set<std::string> classes;
  for (const auto& gc : objects.gateway_classes)
    if (gc.controller_name == options.controller_name) classes.insert(gc.metadata.name);
  for (const auto& gw : objects.gateways) {
    if (!classes.count(gw.gateway_class_name)) continue;
    // Same choice as translate_gateway() in translator.cpp: what the gateway really binds.
    const bool ip = !gw.addresses.empty() && gw.addresses[0].type == "IPAddress";
    options.gateway_addresses[gw.metadata.namespace_ + "/" + gw.metadata.name] =
        ip ? gw.addresses[0].value : "0.0.0.0";
  }
  return options;
}

int run_status_command(const std::string& config_path, std::ostream& out, std::ostream& err) {
  config::ObjectSet objects;
  try {
    objects = config::load_path(config_path);
  } catch (const std::exception& e) {  // ConfigError, and I/O errors of the filesystem library
    err << e.what() << "\n";
    return 1;
  }
  out << status_as_yaml(compute_status(objects, gateway_status_options(objects)));
  const auto table = translate(objects);
  for (const auto& w : table->warnings) err << "warning: " << w << "\n";
  return 0;
}

}  // namespace mg::route
