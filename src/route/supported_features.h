#pragma once
// The Gateway API features mirrorgate claims (conformance SupportedFeature names). A feature is listed
// only once its whole conformance test passes; the harness runs exactly the tests these enable.

#include <array>
#include <string_view>

namespace mg::route {

inline constexpr std::array<std::string_view, 39> kSupportedFeatures = {
    "Gateway",
    "GatewayHTTPSListenerDetectMisdirectedRequests",
    "HTTPRoute",
    "ReferenceGrant",
    "GatewayPort8080",
    "GatewayHTTPListenerIsolation",
    "HTTPRouteQueryParamMatching",
    "HTTPRouteMethodMatching",
    "HTTPRouteResponseHeaderModification",
    "HTTPRouteBackendRequestHeaderModification",
    "HTTPRoutePortRedirect",
    "HTTPRouteSchemeRedirect",
    "HTTPRoutePathRedirect",
    "HTTPRoute303RedirectStatusCode",
    "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode",
    "HTTPRouteBackendRequestRedirect",
    "HTTPRouteHostRewrite",
    "HTTPRoutePathRewrite",
    "HTTPRouteBackendURLRewrite",
    "HTTPRouteRequestMirror",
    "HTTPRouteRequestMultipleMirrors",
    "HTTPRouteRequestPercentageMirror",
    "HTTPRouteRequestTimeout",
    "HTTPRouteBackendTimeout",
    "HTTPRouteRetry",
    "HTTPRouteRetryBackendTimeout",
    "HTTPRouteRetryConnectionError",
    "HTTPRouteParentRefPort",
    "HTTPRouteDestinationPortMatching",
    "HTTPRouteNamedRouteRule",
    "HTTPRouteCORS",
    "HTTPRouteBackendProtocolWebSocket",
    "HTTPRouteBackendProtocolH2C",
    "TLSRoute",  // Passthrough listeners (TLSRouteModeTerminate and TLSRouteModeMixed are not served)
    // Upstream suite only (scripts/conformance.sh): the data harness has no case for these.
    "BackendTLSPolicy",
    "BackendTLSPolicySANValidation",
    "GatewayFrontendClientCertificateValidation",
    "GatewayFrontendClientCertificateValidationInsecureFallback",
};

}  // namespace mg::route
