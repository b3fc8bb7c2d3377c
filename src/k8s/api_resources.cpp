#include "k8s/api_resources.h"

#include <stdexcept>

namespace mg::k8s {

std::string ApiResource::group_version_path() const {
  return api_version.find('/') == std::string::npos ? "/api/" + api_version : "/apis/" + api_version;
}

std::string ApiResource::collection_path(std::string_view namespace_) const {
  if (!namespaced || namespace_.empty()) return group_version_path() + "/" + resource;
  return group_version_path() + "/namespaces/" + std::string(namespace_) + "/" + resource;
}

std::string ApiResource::object_path(std::string_view namespace_, std::string_view name) const {
  return collection_path(namespace_) + "/" + std::string(name);
}

std::string ApiResource::qualified_name() const {
  const size_t slash = api_version.find('/');
  return slash == std::string::npos ? resource : resource + "." + api_version.substr(0, slash);
}

const std::vector<ApiResource>& watched_resources() {
  static const std::vector<ApiResource> resources = {
      {"GatewayClass", "gateway.networking.k8s.io/v1", "gatewayclasses", false},
      {"Gateway", "gateway.networking.k8s.io/v1", "gateways", true},
      {"HTTPRoute", "gateway.networking.k8s.io/v1", "httproutes", true},
      // v1 since Gateway API 1.5; a cluster without it (an older CRD) counts as having none.
      {"TLSRoute", "gateway.networking.k8s.io/v1", "tlsroutes", true},
      {"ReferenceGrant", "gateway.networking.k8s.io/v1beta1", "referencegrants", true},
      {"Namespace", "v1", "namespaces", false},
      {"Service", "v1", "services", true},
      {"EndpointSlice", "discovery.k8s.io/v1", "endpointslices", true},
      {"MirrorPolicy", "mirrorgate.io/v1alpha1", "mirrorpolicies", true},
      {"ClientTrafficPolicy", "mirrorgate.io/v1alpha1", "clienttrafficpolicies", true},
      {"BackendTLSPolicy", "gateway.networking.k8s.io/v1", "backendtlspolicies", true},
  };
  return resources;
}

const ApiResource& secret_resource() {
  static const ApiResource secret{"Secret", "v1", "secrets", true};
  return secret;
}

const ApiResource& config_map_resource() {
  static const ApiResource config_map{"ConfigMap", "v1", "configmaps", true};
  return config_map;
}

const ApiResource& service_resource() {
  for (const auto& r : watched_resources())
    if (r.kind == "Service") return r;
  throw std::logic_error("Service is not a watched resource");
}

const ApiResource& lease_resource() {
  static const ApiResource lease{"Lease", "coordination.k8s.io/v1", "leases", true};
  return lease;
}

}  // namespace mg::k8s
