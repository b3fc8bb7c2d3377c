#include "route/gateway_status_options.h"

#include "route/listener_rules.h"
#include "route/supported_features.h"

namespace mg::route {

StatusOptions gateway_status_options() {
  StatusOptions options;
  for (const auto f : route::kSupportedFeatures) options.supported_features.emplace_back(f);
  return options;
}

StatusOptions gateway_status_options(const config::ObjectSet& objects) {
  StatusOptions options = gateway_status_options();
  // Gateways of other classes are never listed, so their entries are harmless.
  for (const auto& gw : objects.gateways)
    options.gateway_addresses[gw.metadata.namespace_ + "/" + gw.metadata.name] =
        gateway_bind_address(gw).value;
  return options;
}

}  // namespace mg::route
