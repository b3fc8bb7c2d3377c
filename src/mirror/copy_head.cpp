#include "mirror/copy_head.h"

#include <algorithm>
#include <cctype>

namespace mg::mirror {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Headers the gateway owns on a copy: edits to them are ignored (docs/mirroring.md says which).
bool owned_by_gateway(std::string_view name) {
  for (std::string_view owned : {"x-request-id", "x-mirrorgate-mirror", "traceparent", "content-length",
                                 "transfer-encoding", "connection"})
    if (iequals(name, owned)) return true;
  return false;
}

bool is_host(std::string_view name) {
  return iequals(name, "host");
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

void append_line(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

bool edits_copy_head(const route::MirrorSettings& settings) {
  return !settings.host_suffix.empty() || !settings.request_headers.empty();
}

std::string host_with_suffix(std::string_view host, std::string_view suffix) {
  if (suffix.empty() || host.empty() || host.front() == '[') return std::string(host);
  size_t colon = host.rfind(':');
  std::string_view name = colon == std::string_view::npos ? host : host.substr(0, colon);
  std::string_view port = colon == std::string_view::npos ? std::string_view{} : host.substr(colon);
  std::string out;
  out.reserve(host.size() + suffix.size());
  out.append(name).append(suffix).append(port);
  return out;
}

std::string edit_copy_head(std::string_view head, const route::MirrorSettings& settings) {
  const route::HeaderModifier& edits = settings.request_headers;
  auto removed = [&](std::string_view name) {
    if (owned_by_gateway(name) || is_host(name)) return false;
    for (const auto& r : edits.remove)
      if (iequals(r, name)) return true;
    return false;
  };
  auto replaced = [&](std::string_view name) {
    if (owned_by_gateway(name)) return false;
    for (const auto& [set_name, value] : edits.set)
      if (iequals(set_name, name)) return true;
    return false;
  };

  std::string out;
  out.reserve(head.size() + 128);
  size_t line_end = head.find("\r\n");
  if (line_end == std::string_view::npos) return std::string(head);
  out.append(head.substr(0, line_end + 2));  // the request line
  for (size_t pos = line_end + 2; pos < head.size();) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    size_t colon = line.find(':');
    std::string_view name = colon == std::string_view::npos ? line : line.substr(0, colon);
    if (removed(name) || replaced(name)) continue;
    if (is_host(name) && !settings.host_suffix.empty()) {
      append_line(out, name, host_with_suffix(trim(line.substr(colon + 1)), settings.host_suffix));
      continue;
    }
    out.append(line).append("\r\n");
  }
  for (const auto& [name, value] : edits.set) {
    if (owned_by_gateway(name)) continue;
    append_line(out, name, is_host(name) ? host_with_suffix(value, settings.host_suffix) : value);
  }
  for (const auto& [name, value] : edits.add)
    if (!owned_by_gateway(name) && !is_host(name)) append_line(out, name, value);
  return out;
}

}  // namespace mg::mirror
