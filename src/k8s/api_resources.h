#pragma once
// The API resources mirrorgate reads, with where the API server serves them. Listing them in one table
// keeps the watch set, the RBAC rules (charts/mirrorgate) and the loader's kinds in step.

#include <string>
#include <string_view>
#include <vector>

namespace mg::k8s {

struct ApiResource {
  std::string kind;         // "HTTPRoute"
  std::string api_version;  // "gateway.networking.k8s.io/v1"
  std::string resource;     // "httproutes"
  bool namespaced = true;

  // "/apis/gateway.networking.k8s.io/v1" or, for the core group, "/api/v1".
  std::string group_version_path() const;
  // The collection's path, in one namespace or (empty) across all.
  std::string collection_path(std::string_view namespace_ = {}) const;
  // The path of one object.
  std::string object_path(std::string_view namespace_, std::string_view name) const;
  // "httproutes.gateway.networking.k8s.io", as RBAC errors and kubectl name it.
  std::string qualified_name() const;
};

// Every resource the provider watches, in the order snapshots list them. Secrets and ConfigMaps are not
// in it: only those a Gateway references are read, each on its own (referenced_objects.h).
const std::vector<ApiResource>& watched_resources();
const ApiResource& secret_resource();
const ApiResource& config_map_resource();
const ApiResource& service_resource();
const ApiResource& lease_resource();

}  // namespace mg::k8s
