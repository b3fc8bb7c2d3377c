#pragma once

// Typed model of the Kubernetes objects mirrorgate reads: Gateway API v1 (GatewayClass, Gateway,
// HTTPRoute, ReferenceGrant), the core objects routing depends on (Service, EndpointSlice, Namespace)
// and mirrorgate's own MirrorPolicy. The loader fills every field a user may legally write, even those
// no later stage uses yet, so that accepting a manifest and acting on it are separate decisions.
// Defaults from the API's schema are applied by the loader, so consumers never re-derive them.
// Every type compares by value, so that a consumer can tell what a new snapshot changed
// (config/object_changes.h).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace mg::config {

struct SourceLocation {
  std::string file;
  int line = 0;            // 1-based line of the document's first key
  int document_index = 0;  // 0-based index of the YAML document within its file
  bool operator==(const SourceLocation&) const = default;
};

struct ObjectMeta {
  std::string name;
  std::string namespace_;  // "default" for namespaced kinds when omitted; empty for cluster-scoped
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  int64_t generation = 1;
  // False when the manifest sets no generation (files usually don't): generations.h then counts spec
  // changes across reloads the way the API server does.
  bool generation_given = false;
  uint64_t spec_fingerprint = 0;  // hash of everything but metadata and status, to notice spec changes
  std::string creation_timestamp;  // RFC 3339 as written; empty when absent
  std::string uid;
  std::string resource_version;  // opaque, as the API server wrote it; empty in hand-written manifests
  // Set when the object as the API server holds it could not be used (the loader's reason): only its
  // identity and references were decoded, so that status can say why it serves nothing.
  std::string refused;
  bool operator==(const ObjectMeta&) const = default;
};

// --- shared Gateway API pieces ---

struct LabelSelectorRequirement {
  std::string key;
  std::string op;  // In, NotIn, Exists, DoesNotExist
  std::vector<std::string> values;
  bool operator==(const LabelSelectorRequirement&) const = default;
};

struct LabelSelector {
  std::map<std::string, std::string> match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;
  bool operator==(const LabelSelector&) const = default;
};

// SecretObjectReference, ObjectReference, LocalObjectReference and friends share this shape; fields
// a given reference type does not have are rejected by the loader, not represented separately.
struct ObjectReference {
  std::string group;
  std::string kind;
  std::string name;
  std::optional<std::string> namespace_;
  bool operator==(const ObjectReference&) const = default;
};

// LocalPolicyTargetReferenceWithSectionName (GEP-713 policy attachment): the object a policy applies to,
// in the policy's own namespace, optionally narrowed to one section (a listener, a named rule).
struct PolicyTargetReference {
  std::string group;
  std::string kind;
  std::string name;
  std::optional<std::string> section_name;
  bool operator==(const PolicyTargetReference&) const = default;
};

struct ParametersReference {
  std::string group;
  std::string kind;
  std::string name;
  std::optional<std::string> namespace_;
  bool operator==(const ParametersReference&) const = default;
};

// Gateway API Duration ("1h2m3s4ms"), kept as written and in milliseconds.
struct Duration {
  std::string text;
  int64_t milliseconds = 0;
  bool operator==(const Duration&) const = default;
};

// --- GatewayClass ---

struct GatewayClass {
  ObjectMeta metadata;
  SourceLocation source;
  std::string controller_name;
  std::optional<ParametersReference> parameters_ref;
  std::optional<std::string> description;
  bool operator==(const GatewayClass&) const = default;
};

// --- Gateway ---

struct RouteGroupKind {
  std::string group = "gateway.networking.k8s.io";
  std::string kind;
  bool operator==(const RouteGroupKind&) const = default;
};

struct RouteNamespaces {
  std::string from = "Same";  // All, Same, Selector, None
  std::optional<LabelSelector> selector;
  bool operator==(const RouteNamespaces&) const = default;
};

struct AllowedRoutes {
  RouteNamespaces namespaces;
  std::vector<RouteGroupKind> kinds;  // empty: the defaults for the listener's protocol
  bool operator==(const AllowedRoutes&) const = default;
};

struct FrontendTLSValidation {
  std::vector<ObjectReference> ca_certificate_refs;
  std::optional<std::string> mode;
  bool operator==(const FrontendTLSValidation&) const = default;
};

struct GatewayTLSConfig {
  std::string mode = "Terminate";                 // Terminate, Passthrough
  std::vector<ObjectReference> certificate_refs;  // kind defaults to Secret, group ""
  std::optional<FrontendTLSValidation> frontend_validation;
  std::map<std::string, std::string> options;
  bool operator==(const GatewayTLSConfig&) const = default;
};

struct Listener {
  std::string name;
  std::optional<std::string> hostname;
  int32_t port = 0;
  std::string protocol;
  std::optional<GatewayTLSConfig> tls;
  AllowedRoutes allowed_routes;
  bool operator==(const Listener&) const = default;
};

struct GatewayAddress {
  std::string type = "IPAddress";  // IPAddress, Hostname, NamedAddress or a domain-prefixed type
  std::string value;
  bool operator==(const GatewayAddress&) const = default;
};

struct GatewayInfrastructure {
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::optional<ParametersReference> parameters_ref;
  bool operator==(const GatewayInfrastructure&) const = default;
};

struct GatewayBackendTLS {
  std::optional<ObjectReference> client_certificate_ref;
  bool operator==(const GatewayBackendTLS&) const = default;
};

// Gateway spec.tls.frontend (Gateway API v1.5+): client certificate validation for the HTTPS listeners,
// by default and per port.
struct GatewayFrontendPort {
  int32_t port = 0;
  FrontendTLSValidation validation;
  bool operator==(const GatewayFrontendPort&) const = default;
};

struct GatewayFrontendTLS {
  std::optional<FrontendTLSValidation> default_validation;
  std::vector<GatewayFrontendPort> per_port;
  bool operator==(const GatewayFrontendTLS&) const = default;
};

struct AllowedListeners {
  RouteNamespaces namespaces{"None", std::nullopt};
  bool operator==(const AllowedListeners&) const = default;
};

struct Gateway {
  ObjectMeta metadata;
  SourceLocation source;
  std::string gateway_class_name;
  std::vector<Listener> listeners;
  std::vector<GatewayAddress> addresses;
  std::optional<GatewayInfrastructure> infrastructure;
  std::optional<GatewayBackendTLS> backend_tls;
  std::optional<AllowedListeners> allowed_listeners;
  std::optional<GatewayFrontendTLS> tls_frontend;  // spec.tls.frontend
  bool operator==(const Gateway&) const = default;
};

// --- HTTPRoute ---

struct ParentReference {
  std::string group = "gateway.networking.k8s.io";
  std::string kind = "Gateway";
  std::optional<std::string> namespace_;  // absent: the route's namespace
  std::string name;
  std::optional<std::string> section_name;
  std::optional<int32_t> port;
  bool operator==(const ParentReference&) const = default;
};

struct HTTPPathMatch {
  std::string type = "PathPrefix";  // Exact, PathPrefix, RegularExpression
  std::string value = "/";
  bool operator==(const HTTPPathMatch&) const = default;
};

struct HTTPHeaderMatch {       // also used for query parameters
  std::string type = "Exact";  // Exact, RegularExpression
  std::string name;
  std::string value;
  bool operator==(const HTTPHeaderMatch&) const = default;
};

struct HTTPRouteMatch {
  HTTPPathMatch path;  // always present after defaulting
  std::vector<HTTPHeaderMatch> headers;
  std::vector<HTTPHeaderMatch> query_params;
  std::optional<std::string> method;
  bool operator==(const HTTPRouteMatch&) const = default;
};

struct HTTPHeader {
  std::string name;
  std::string value;
  bool operator==(const HTTPHeader&) const = default;
};

struct HTTPHeaderFilter {
  std::vector<HTTPHeader> set;
  std::vector<HTTPHeader> add;
  std::vector<std::string> remove;
  bool operator==(const HTTPHeaderFilter&) const = default;
};

struct BackendObjectReference {
  std::string group;  // "" = core
  std::string kind = "Service";
  std::string name;
  std::optional<std::string> namespace_;  // absent: the route's namespace
  std::optional<int32_t> port;
  bool operator==(const BackendObjectReference&) const = default;
};

struct Fraction {
  int32_t numerator = 0;
  int32_t denominator = 100;
  bool operator==(const Fraction&) const = default;
};

struct HTTPRequestMirrorFilter {
  BackendObjectReference backend_ref;
  std::optional<int32_t> percent;
  std::optional<Fraction> fraction;
  bool operator==(const HTTPRequestMirrorFilter&) const = default;
};

struct HTTPPathModifier {
  std::string type;  // ReplaceFullPath, ReplacePrefixMatch
  std::optional<std::string> replace_full_path;
  std::optional<std::string> replace_prefix_match;
  bool operator==(const HTTPPathModifier&) const = default;
};

struct HTTPRequestRedirectFilter {
  std::optional<std::string> scheme;
  std::optional<std::string> hostname;
  std::optional<HTTPPathModifier> path;
  std::optional<int32_t> port;
  int32_t status_code = 302;
  bool operator==(const HTTPRequestRedirectFilter&) const = default;
};

struct HTTPURLRewriteFilter {
  std::optional<std::string> hostname;
  std::optional<HTTPPathModifier> path;
  bool operator==(const HTTPURLRewriteFilter&) const = default;
};

struct HTTPCORSFilter {
  std::vector<std::string> allow_origins;
  std::optional<bool> allow_credentials;
  std::vector<std::string> allow_methods;
  std::vector<std::string> allow_headers;
  std::vector<std::string> expose_headers;
  int32_t max_age = 5;
  bool operator==(const HTTPCORSFilter&) const = default;
};

struct LocalObjectReference {
  std::string group;
  std::string kind;
  std::string name;
  bool operator==(const LocalObjectReference&) const = default;
};

struct HTTPExternalAuthFilter {
  std::string protocol;  // HTTP, GRPC
  BackendObjectReference backend_ref;
  std::vector<std::string> grpc_allowed_headers;
  std::optional<std::string> http_path;
  std::vector<std::string> http_allowed_headers;
  std::vector<std::string> http_allowed_response_headers;
  std::optional<int32_t> forward_body_max_size;
  bool has_grpc = false;
  bool has_http = false;
  bool operator==(const HTTPExternalAuthFilter&) const = default;
};

struct HTTPRouteFilter {
  std::string type;  // RequestHeaderModifier, ResponseHeaderModifier, RequestMirror, RequestRedirect,
                     // URLRewrite, CORS, ExternalAuth, ExtensionRef
  std::optional<HTTPHeaderFilter> request_header_modifier;
  std::optional<HTTPHeaderFilter> response_header_modifier;
  std::optional<HTTPRequestMirrorFilter> request_mirror;
  std::optional<HTTPRequestRedirectFilter> request_redirect;
  std::optional<HTTPURLRewriteFilter> url_rewrite;
  std::optional<HTTPCORSFilter> cors;
  std::optional<HTTPExternalAuthFilter> external_auth;
  std::optional<LocalObjectReference> extension_ref;
  bool operator==(const HTTPRouteFilter&) const = default;
};

struct HTTPBackendRef {
  BackendObjectReference ref;
  int32_t weight = 1;
  std::vector<HTTPRouteFilter> filters;
  bool operator==(const HTTPBackendRef&) const = default;
};

struct HTTPRouteTimeouts {
  std::optional<Duration> request;
  std::optional<Duration> backend_request;
  bool operator==(const HTTPRouteTimeouts&) const = default;
};

struct HTTPRouteRetry {
  std::vector<int32_t> codes;
  std::optional<int32_t> attempts;
  std::optional<Duration> backoff;
  bool operator==(const HTTPRouteRetry&) const = default;
};

struct SessionPersistence {
  std::optional<std::string> session_name;
  std::optional<Duration> absolute_timeout;
  std::optional<Duration> idle_timeout;
  std::string type = "Cookie";                      // Cookie, Header
  std::optional<std::string> cookie_lifetime_type;  // Permanent, Session
  bool operator==(const SessionPersistence&) const = default;
};

struct HTTPRouteRule {
  std::optional<std::string> name;
  std::vector<HTTPRouteMatch> matches;  // never empty after defaulting
  std::vector<HTTPRouteFilter> filters;
  std::vector<HTTPBackendRef> backend_refs;
  std::optional<HTTPRouteTimeouts> timeouts;
  std::optional<HTTPRouteRetry> retry;
  std::optional<SessionPersistence> session_persistence;
  bool operator==(const HTTPRouteRule&) const = default;
};

struct HTTPRoute {
  ObjectMeta metadata;
  SourceLocation source;
  std::vector<ParentReference> parent_refs;
  std::vector<std::string> hostnames;
  std::vector<HTTPRouteRule> rules;  // never empty after defaulting
  bool operator==(const HTTPRoute&) const = default;
};

// --- TLSRoute ---

struct BackendRef {
  BackendObjectReference ref;
  int32_t weight = 1;
  bool operator==(const BackendRef&) const = default;
};

struct TLSRouteRule {
  std::optional<std::string> name;
  std::vector<BackendRef> backend_refs;
  bool operator==(const TLSRouteRule&) const = default;
};

// A route for TLS connections by their SNI, served by listeners of protocol TLS (Passthrough: the
// connection goes to the backend unopened).
struct TLSRoute {
  ObjectMeta metadata;
  SourceLocation source;
  std::vector<ParentReference> parent_refs;
  std::vector<std::string> hostnames;
  std::vector<TLSRouteRule> rules;
  bool operator==(const TLSRoute&) const = default;
};

// --- ReferenceGrant ---

struct ReferenceGrantFrom {
  std::string group;
  std::string kind;
  std::string namespace_;
  bool operator==(const ReferenceGrantFrom&) const = default;
};

struct ReferenceGrantTo {
  std::string group;
  std::string kind;
  std::optional<std::string> name;
  bool operator==(const ReferenceGrantTo&) const = default;
};

struct ReferenceGrant {
  ObjectMeta metadata;
  SourceLocation source;
  std::vector<ReferenceGrantFrom> from;
  std::vector<ReferenceGrantTo> to;
  bool operator==(const ReferenceGrant&) const = default;
};

// --- core objects ---

struct ServicePort {
  std::string name;
  std::string protocol = "TCP";
  std::optional<std::string> app_protocol;
  int32_t port = 0;
  // Absent means "same as port"; a string names a container port.
  std::variant<int32_t, std::string> target_port = int32_t{0};
  std::optional<int32_t> node_port;
  bool operator==(const ServicePort&) const = default;
};

struct Service {
  ObjectMeta metadata;
  SourceLocation source;
  std::string type = "ClusterIP";
  std::map<std::string, std::string> selector;
  std::vector<ServicePort> ports;
  std::optional<std::string> cluster_ip;
  std::vector<std::string> cluster_ips;
  std::optional<std::string> external_name;
  bool publish_not_ready_addresses = false;
  // status.loadBalancer.ingress as the API server reports it (an ip: IPAddress, a hostname: Hostname);
  // read in a cluster, for --publish-service.
  std::vector<GatewayAddress> load_balancer_ingress;
  bool operator==(const Service&) const = default;
};

struct EndpointConditions {
  std::optional<bool> ready;
  std::optional<bool> serving;
  std::optional<bool> terminating;
  bool operator==(const EndpointConditions&) const = default;
};

struct EndpointTargetRef {
  std::string kind;
  std::string namespace_;
  std::string name;
  std::string uid;
  bool operator==(const EndpointTargetRef&) const = default;
};

struct Endpoint {
  std::vector<std::string> addresses;
  EndpointConditions conditions;
  std::optional<std::string> hostname;
  std::optional<std::string> node_name;
  std::optional<std::string> zone;
  std::optional<EndpointTargetRef> target_ref;
  bool operator==(const Endpoint&) const = default;
};

struct EndpointPort {
  std::optional<std::string> name;
  std::optional<std::string> protocol;
  std::optional<int32_t> port;
  std::optional<std::string> app_protocol;
  bool operator==(const EndpointPort&) const = default;
};

struct EndpointSlice {
  ObjectMeta metadata;
  SourceLocation source;
  std::string address_type;  // IPv4, IPv6, FQDN
  std::vector<Endpoint> endpoints;
  std::vector<EndpointPort> ports;
  std::string service_name() const {
    auto it = metadata.labels.find("kubernetes.io/service-name");
    return it == metadata.labels.end() ? std::string{} : it->second;
  }
  bool operator==(const EndpointSlice&) const = default;
};

struct Namespace {
  ObjectMeta metadata;
  SourceLocation source;
  bool operator==(const Namespace&) const = default;
};

// Kept only because a later TLS stage will need certificate material; values are base64 as written
// (data) or plain (stringData).
// A ConfigMap's data: CA bundles (key ca.crt) for client certificate validation.
struct ConfigMap {
  ObjectMeta metadata;
  SourceLocation source;
  std::map<std::string, std::string> data;
  bool operator==(const ConfigMap&) const = default;
};

struct Secret {
  ObjectMeta metadata;
  SourceLocation source;
  std::string type;
  std::map<std::string, std::string> data;
  std::map<std::string, std::string> string_data;
  bool operator==(const Secret&) const = default;
};

// --- MirrorPolicy (mirrorgate.io/v1alpha1) ---

// What the Gateway API RequestMirror filter cannot say, attached GEP-713 style to HTTPRoutes (or one
// rule of one, by sectionName = the rule's name). Every field but targetRefs is optional: unset means the
// process-wide default (docs/config.md, "MirrorPolicy").
struct MirrorResponseComparison {  // present: comparison is on
  int32_t percent = 100;
  std::vector<std::string> headers;  // as written; unique case-insensitively
  std::vector<std::string> ignore_json_paths;
  std::optional<uint64_t> max_body_size;
  bool operator==(const MirrorResponseComparison&) const = default;
};

struct MirrorPolicy {
  ObjectMeta metadata;
  SourceLocation source;
  std::vector<PolicyTargetReference> target_refs;
  std::optional<Duration> timeout;
  std::optional<int32_t> max_in_flight;
  std::optional<uint64_t> max_bytes_in_flight;
  std::optional<uint64_t> max_body_size;
  std::optional<std::string> host_suffix;
  std::optional<HTTPHeaderFilter> request_header_modifier;
  std::vector<std::string> allowed_methods;
  std::optional<MirrorResponseComparison> response_comparison;
  bool operator==(const MirrorPolicy&) const = default;
};

// --- ClientTrafficPolicy (mirrorgate.io/v1alpha1) ---
//
// Per-listener limits and timeouts, attached to a Gateway (or one of its listeners) the GEP-713 way.
// Every field is optional: unset means the command-line default (--max-request-line, ...).

struct ClientTrafficLimits {
  std::optional<uint64_t> max_request_line_size;  // bytes (414 beyond)
  std::optional<uint64_t> max_header_size;        // bytes of the whole request head (431 beyond)
  std::optional<uint64_t> max_headers;            // header fields (431 beyond)
  std::optional<uint64_t> max_request_body_size;  // bytes, 0 = unlimited (413 beyond)
  bool operator==(const ClientTrafficLimits&) const = default;
};

struct ClientTrafficTimeouts {
  std::optional<Duration> request_header;  // whole request head, from its first byte (408)
  std::optional<Duration> idle;            // keep-alive connection with no request
  bool operator==(const ClientTrafficTimeouts&) const = default;
};

// HTTPS listeners' handshake, as Envoy Gateway's ClientTrafficPolicy spec.tls names it.
struct ClientTrafficTls {
  std::optional<std::string> min_version;   // "1.2", "1.3" ("Auto" and absent: 1.2)
  std::optional<std::string> max_version;   // "1.2", "1.3" ("Auto" and absent: 1.3)
  std::vector<std::string> ciphers;         // TLS 1.2 cipher suites, OpenSSL names (route checks them)
  std::vector<std::string> alpn_protocols;  // "h2", "http/1.1", "http/1.0", in preference order
  bool operator==(const ClientTrafficTls&) const = default;
};

struct ClientTrafficPolicy {
  ObjectMeta metadata;
  SourceLocation source;
  std::vector<PolicyTargetReference> target_refs;  // kind Gateway, in the policy's namespace
  ClientTrafficLimits limits;
  ClientTrafficTimeouts timeouts;
  std::optional<ClientTrafficTls> tls;
  bool operator==(const ClientTrafficPolicy&) const = default;
};

// --- BackendTLSPolicy (gateway.networking.k8s.io/v1, GEP-1897) ---
//
// TLS from the gateway to the endpoints of a Service (or one named port of it): the CA certificates the
// backend's chain must lead to, and the name it must present (also sent as SNI).

struct SubjectAltName {
  std::string type;      // Hostname or URI
  std::string hostname;  // type Hostname; may start with "*."
  std::string uri;       // type URI
  bool operator==(const SubjectAltName&) const = default;
};

struct BackendTLSPolicyValidation {
  std::vector<ObjectReference> ca_certificate_refs;       // LocalObjectReference: group, kind, name
  std::optional<std::string> well_known_ca_certificates;  // "System" (the loader refuses others)
  std::string hostname;                                   // SNI, and the name verified when no SANs
  std::vector<SubjectAltName> subject_alt_names;          // when set, verified instead of hostname
  bool operator==(const BackendTLSPolicyValidation&) const = default;
};

struct BackendTLSPolicy {
  ObjectMeta metadata;
  SourceLocation source;
  std::vector<PolicyTargetReference> target_refs;  // core Service, sectionName = a port name
  BackendTLSPolicyValidation validation;
  std::map<std::string, std::string> options;  // none is understood yet; kept for the status message
  bool operator==(const BackendTLSPolicy&) const = default;
};

// Everything loaded, in input order per kind (files sorted by name, documents in file order).
struct ObjectSet {
  std::vector<GatewayClass> gateway_classes;
  std::vector<Gateway> gateways;
  std::vector<HTTPRoute> http_routes;
  std::vector<TLSRoute> tls_routes;
  std::vector<ReferenceGrant> reference_grants;
  std::vector<Service> services;
  std::vector<EndpointSlice> endpoint_slices;
  std::vector<Namespace> namespaces;
  std::vector<Secret> secrets;
  std::vector<MirrorPolicy> mirror_policies;
  std::vector<ClientTrafficPolicy> client_traffic_policies;
  std::vector<ConfigMap> config_maps;
  std::vector<BackendTLSPolicy> backend_tls_policies;
  size_t ignored_objects = 0;  // well-known kinds mirrorgate does not use (Deployment, ...)
};

// Calls f(kind, member) for each kind's list of ObjectSet, member being a pointer to it, so that code over
// every kind (one set or two) has one list of the kinds to keep up to date.
template <typename F>
void for_each_kind(F&& f) {
  f("GatewayClass", &ObjectSet::gateway_classes);
  f("Gateway", &ObjectSet::gateways);
  f("HTTPRoute", &ObjectSet::http_routes);
  f("TLSRoute", &ObjectSet::tls_routes);
  f("ReferenceGrant", &ObjectSet::reference_grants);
  f("Service", &ObjectSet::services);
  f("EndpointSlice", &ObjectSet::endpoint_slices);
  f("Namespace", &ObjectSet::namespaces);
  f("Secret", &ObjectSet::secrets);
  f("MirrorPolicy", &ObjectSet::mirror_policies);
  f("ClientTrafficPolicy", &ObjectSet::client_traffic_policies);
  f("ConfigMap", &ObjectSet::config_maps);
  f("BackendTLSPolicy", &ObjectSet::backend_tls_policies);
}

}  // namespace mg::config
