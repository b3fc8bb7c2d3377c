#pragma once
// The Gateway API features mirrorgate claims (conformance SupportedFeature names). A feature is listed
// only once its whole conformance test passes; the harness runs exactly the tests these enable.

#include <array>
#include <string_view>

namespace mg::proxy {

inline constexpr std::array<std::string_view, 4> kSupportedFeatures = {
    "Gateway",
    "HTTPRoute",
    "ReferenceGrant",
    "HTTPRouteRequestMirror",
};

}  // namespace mg::proxy
