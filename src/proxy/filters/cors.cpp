#include "proxy/filters/cors.h"

#include "http/syntax.h"

namespace mg::proxy::filters {

namespace {

bool contains_star(const std::vector<std::string>& list) {
  for (const auto& v : list)
    if (v == "*") return true;
  return false;
}

std::string join(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& v : list) {
    if (!out.empty()) out += ", ";
    out += v;
  }
  return out;
}

// "https://*.bar.com" matches "https://a.bar.com" and "https://x.y.bar.com", never "https://bar.com".
bool wildcard_origin_matches(std::string_view pattern, std::string_view origin) {
  size_t star = pattern.find('*');
  std::string_view before = pattern.substr(0, star);
  std::string_view after = pattern.substr(star + 1);
  if (origin.size() <= before.size() + after.size()) return false;
  return http::iequals(origin.substr(0, before.size()), before) &&
         http::iequals(origin.substr(origin.size() - after.size()), after);
}

}  // namespace

bool origin_allowed(const route::Cors& cors, std::string_view origin) {
  if (origin.empty()) return false;
  for (const auto& allowed : cors.allow_origins) {
    if (allowed == "*") return true;
    if (allowed.find('*') != std::string::npos) {
      if (wildcard_origin_matches(allowed, origin)) return true;
    } else if (http::iequals(allowed, origin)) {
      return true;
    }
  }
  return false;
}

bool is_preflight(std::string_view method, std::string_view origin, std::string_view request_method) {
  return method == "OPTIONS" && !origin.empty() && !request_method.empty();
}

std::vector<OwnedHeader> preflight_headers(const route::Cors& cors, std::string_view origin,
                                           std::string_view request_method, std::string_view request_headers) {
  if (!origin_allowed(cors, origin)) return {};
  std::vector<OwnedHeader> out;
  auto line = [&](std::string_view name, std::string_view value) { out.push_back({name, std::string(value)}); };
  // Echo the origin rather than "*": valid in every case, and required when credentials are allowed.
  line("Access-Control-Allow-Origin", origin);
  // With credentials "*" would be taken literally by browsers, so a wildcard answers with what was asked.
  line("Access-Control-Allow-Methods", contains_star(cors.allow_methods) ? std::string(request_method)
                                                                          : join(cors.allow_methods));
  if (contains_star(cors.allow_headers)) {
    if (!request_headers.empty()) line("Access-Control-Allow-Headers", request_headers);
  } else if (!cors.allow_headers.empty()) {
    line("Access-Control-Allow-Headers", join(cors.allow_headers));
  }
  if (!cors.expose_headers.empty()) line("Access-Control-Expose-Headers", join(cors.expose_headers));
  line("Access-Control-Max-Age", std::to_string(cors.max_age_seconds));
  if (cors.allow_credentials) line("Access-Control-Allow-Credentials", "true");
  line("Vary", "Origin");
  return out;
}

void add_response_headers(const route::Cors& cors, std::string_view origin, std::vector<http::Header>& headers) {
  if (!origin_allowed(cors, origin)) return;
  headers.push_back({"Access-Control-Allow-Origin", origin});
  if (cors.allow_credentials) headers.push_back({"Access-Control-Allow-Credentials", "true"});
  if (!cors.expose_headers.empty()) {
    // One line per exposed name keeps the views into the table; a list split across lines is equivalent.
    for (const auto& name : cors.expose_headers) headers.push_back({"Access-Control-Expose-Headers", name});
  }
  headers.push_back({"Vary", "Origin"});
}

}  // namespace mg::proxy::filters
