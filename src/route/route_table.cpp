#include "route/route_table.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace mg::route {
namespace {

using detail::CompiledMatch;
using detail::HostKind;
using detail::PathKind;
using detail::ValueMatch;

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// Host header -> lowercase name without port or trailing dot, written into buf (no allocation).
// Returns an empty view when it cannot be a valid hostname (too long), so only catch-alls match.
std::string_view normalize_host(std::string_view host, std::array<char, 256>& buf) {
  if (!host.empty() && host.front() == '[') {  // IPv6 literal: "[::1]:8080"
    const size_t close = host.find(']');
    host = close == std::string_view::npos ? host : host.substr(0, close + 1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.size() > buf.size()) return {};
  for (size_t i = 0; i < host.size(); ++i) buf[i] = lower(host[i]);
  return {buf.data(), host.size()};
}

// Picks the most specific host entry: exact, then longest wildcard, then catch-all. The vector is
// laid out in exactly that order by the translator.
template <typename T>
const T* pick_host(const std::vector<T>& entries, std::string_view host) {
  const auto exact_end = std::partition_point(entries.begin(), entries.end(),
                                              [](const T& e) { return e.kind == HostKind::kExact; });
  if (!host.empty()) {
    const auto it = std::lower_bound(entries.begin(), exact_end, host,
                                     [](const T& e, std::string_view h) { return e.host < h; });
    if (it != exact_end && it->host == host) return &*it;
  }
  for (auto it = exact_end; it != entries.end(); ++it) {
    if (it->kind == HostKind::kAny) return &*it;
    // "*.example.com" covers any number of labels in front of ".example.com", but not the bare domain.
    if (host.size() > it->host.size() && host.ends_with(it->host)) return &*it;
  }
  return nullptr;
}

bool value_matches(const ValueMatch& m, std::string_view value) {
  if (m.regex) return RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *m.regex);
  return value == m.value;
}

bool path_matches(const CompiledMatch& m, std::string_view path) {
  switch (m.path_kind) {
    case PathKind::kExact:
      return path == m.path;
    case PathKind::kPrefix:
      // Segment-wise: "/foo" matches "/foo", "/foo/" and "/foo/bar", never "/foobar".
      return path.starts_with(m.path) && (path.size() == m.path.size() || path[m.path.size()] == '/');
    case PathKind::kRegex:
      return RE2::FullMatch(re2::StringPiece(path.data(), path.size()), *m.path_regex);
    case PathKind::kNever:
      return false;
  }
  return false;
}

bool headers_match(const CompiledMatch& m, std::span<const HeaderView> headers) {
  for (const ValueMatch& want : m.headers) {
    const auto it = std::find_if(headers.begin(), headers.end(),
                                 [&](const HeaderView& h) { return iequals(h.name, want.name); });
    if (it == headers.end() || !value_matches(want, it->value)) return false;
  }
  return true;
}

// First value of a query parameter; found=false when absent.
std::string_view query_value(std::string_view query, std::string_view name, bool& found) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      found = true;
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  found = false;
  return {};
}

bool query_matches(const CompiledMatch& m, std::string_view query) {
  for (const ValueMatch& want : m.query_params) {
    bool found = false;
    const std::string_view v = query_value(query, want.name, found);
    if (!found || !value_matches(want, v)) return false;
  }
  return true;
}

// Method, headers and query parameters: everything but the path.
bool rest_matches(const CompiledMatch& m, const MatchInput& in, std::string_view query) {
  return (m.method.empty() || m.method == in.method) && headers_match(m, in.headers) &&
         query_matches(m, query);
}

// The virtual host a request goes to, and its path and query as matches see them.
struct Located {
  const detail::VirtualHost* vhost = nullptr;
  std::string_view path;
  std::string_view query;
};

Located locate(const Listener& l, const MatchInput& in) {
  std::array<char, 256> buf;
  const std::string_view host = normalize_host(in.host, buf);
  const detail::HostGroup* group = pick_host(l.host_groups, host);
  if (group == nullptr) return {};
  const detail::VirtualHost* vhost = pick_host(group->vhosts, host);
  if (vhost == nullptr) return {};

  std::string_view target = in.target;
  if (!target.starts_with('/')) {  // absolute-form "http://host/path": routing only looks at the path
    const size_t scheme = target.find("://");
    const size_t slash =
        scheme == std::string_view::npos ? std::string_view::npos : target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  const size_t hash = target.find('#');
  if (hash != std::string_view::npos) target = target.substr(0, hash);
  const size_t qmark = target.find('?');
  return {vhost, target.substr(0, qmark),
          qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1)};
}

MatchResult result_of(const Listener& l, const CompiledMatch& m) {
  // CompiledMatch::path of a prefix match is already stored without its trailing '/'.
  return {&l.rules[m.rule], m.path_kind == PathKind::kPrefix ? std::string_view(m.path) : std::string_view{}};
}

MatchResult scan(const Listener& l, const Located& at, const MatchInput& in) {
  for (const CompiledMatch& m : at.vhost->matches)
    if (path_matches(m, at.path) && rest_matches(m, in, at.query)) return result_of(l, m);
  return {};
}

}  // namespace

namespace detail {

void MatchList::push_back(CompiledMatch m) {
  const auto position = static_cast<uint32_t>(matches_.size());
  switch (m.path_kind) {
    case PathKind::kExact:
      by_path_.add_exact(m.path, position);
      break;
    case PathKind::kPrefix:
      by_path_.add_prefix(m.path, position);
      break;
    case PathKind::kRegex:
      unindexed_.push_back(position);
      break;
    case PathKind::kNever:
      break;
  }
  matches_.push_back(std::move(m));
}

}  // namespace detail

const Rule* Listener::match(const MatchInput& in) const {
  return find(in).rule;
}

const SniRoute* Listener::route_sni(std::string_view server_name) const {
  std::array<char, 256> buf;
  return pick_host(sni_routes, normalize_host(server_name, buf));
}

bool Listener::misdirected(std::string_view host, std::string_view server_name) const {
  if (!tls || server_name.empty()) return false;
  std::array<char, 256> host_buf, sni_buf;
  const detail::HostGroup* by_host = pick_host(host_groups, normalize_host(host, host_buf));
  if (by_host == nullptr) return false;
  // The SNI picks among the same sections, the same way (net::select_certificate): exact, wildcard, any.
  return pick_host(host_groups, normalize_host(server_name, sni_buf)) != by_host;
}

MatchResult Listener::find(const MatchInput& in) const {
  const Located at = locate(*this, in);
  if (at.vhost == nullptr) return {};
  const detail::MatchList& matches = at.vhost->matches;
  if (matches.size() <= detail::MatchList::kScanAtMost) return scan(*this, at, in);

  // The lowest position that passes wins. Each list is ascending, so a list is read only up to its first
  // pass, or up to the best found so far; most requests check one match.
  uint32_t best = UINT32_MAX;
  matches.by_path().visit(at.path, [&](std::span<const uint32_t> list) {
    for (const uint32_t i : list) {
      if (i >= best) return;
      if (rest_matches(matches[i], in, at.query)) {  // the index matched the path
        best = i;
        return;
      }
    }
  });
  for (const uint32_t i : matches.unindexed()) {
    if (i >= best) break;
    if (path_matches(matches[i], at.path) && rest_matches(matches[i], in, at.query)) {
      best = i;
      break;
    }
  }
  if (best == UINT32_MAX) return {};
  return result_of(*this, matches[best]);
}

MatchResult Listener::find_linear(const MatchInput& in) const {
  const Located at = locate(*this, in);
  if (at.vhost == nullptr) return {};
  return scan(*this, at, in);
}

const Listener* RouteTable::listener_at(std::string_view address, uint16_t port) const {
  for (const auto& l : listeners)
    if (l.port == port && l.address == address) return &l;
  return nullptr;
}

}  // namespace mg::route
