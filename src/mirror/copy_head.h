#pragma once
// The head of one mirror copy when its MirrorPolicy edits it: requestHeaderModifier (remove, set, add;
// names case-insensitive) and the opt-in Host suffix. Only copies of a mirror with edits pay for this;
// the others send the head shared by every copy of the request, unchanged.

#include <string>
#include <string_view>

#include "route/mirror_settings.h"

namespace mg::mirror {

// True when `settings` changes a copy's head (so a per-copy head must be built).
bool edits_copy_head(const route::MirrorSettings& settings);

// `head` is a request head without its final empty line ("GET / HTTP/1.1\r\nHost: a\r\n..."), as in
// MirrorRequest::head. Returns it with the edits applied (same shape), in the Gateway API order:
// remove, then set (replacing every line of that name), then add; then the Host suffix. Names the
// gateway owns are never edited: X-Request-Id, X-Mirrorgate-Mirror and traceparent (correlation),
// Content-Length, Transfer-Encoding and Connection (framing); Host may be set but not removed or added twice.
std::string edit_copy_head(std::string_view head, const route::MirrorSettings& settings);

// "a.example:8080" + "-shadow" -> "a.example-shadow:8080" (Envoy's shadow Host). An IPv6 literal
// ("[::1]:80") is left as it is: no suffix turns it into a name.
std::string host_with_suffix(std::string_view host, std::string_view suffix);

}  // namespace mg::mirror
