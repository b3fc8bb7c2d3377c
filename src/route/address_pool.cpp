#include "route/address_pool.h"

#include <arpa/inet.h>

namespace mg::route {
namespace {

std::optional<uint32_t> parse_ipv4(std::string_view text) {
  in_addr a{};
  if (inet_pton(AF_INET, std::string(text).c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string format_ipv4(uint32_t host_order) {
  in_addr a{htonl(host_order)};
  char out[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a, out, sizeof out);
}

}  // namespace

std::optional<AddressPool> AddressPool::parse(std::string_view cidr, std::string& error) {
  const size_t slash = cidr.find('/');
  const auto base = parse_ipv4(cidr.substr(0, slash));
  int prefix = -1;
  if (slash != std::string_view::npos && slash + 1 < cidr.size() && cidr.size() - slash <= 3) {
    prefix = 0;
    for (char c : cidr.substr(slash + 1)) prefix = c >= '0' && c <= '9' ? prefix * 10 + (c - '0') : -1000;
  }
  if (!base || prefix < 0 || prefix > 32) {
    error = "\"" + std::string(cidr) + "\" is not an IPv4 CIDR such as 127.0.100.0/24";
    return std::nullopt;
  }
  const uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  if ((*base & ~mask) != 0) {
    error = "\"" + std::string(cidr) + "\" has host bits set; the network is " + format_ipv4(*base & mask) + "/" +
            std::to_string(prefix);
    return std::nullopt;
  }
  AddressPool pool;
  pool.cidr_ = std::string(cidr);
  pool.first_ = *base;
  pool.last_ = *base | ~mask;
  if (prefix <= 30) {
    ++pool.first_;
    --pool.last_;
  }
  return pool;
}

bool AddressPool::contains(std::string_view address) const {
  const auto a = parse_ipv4(address);
  return a && *a >= first_ && *a <= last_;
}

std::map<std::string, std::string> AddressPool::assign(const std::vector<std::string>& wanting,
                                                       const std::map<std::string, std::string>& previous,
                                                       const std::set<std::string>& taken) const {
  std::map<std::string, std::string> out;
  std::set<uint32_t> used;
  for (const auto& t : taken)
    if (const auto a = parse_ipv4(t)) used.insert(*a);
  // First those that keep their address, so that a newcomer sorted before them cannot take it.
  for (const auto& gateway : wanting) {
    const auto it = previous.find(gateway);
    if (it == previous.end() || !contains(it->second)) continue;
    if (used.insert(*parse_ipv4(it->second)).second) out[gateway] = it->second;
  }
  uint64_t next = first_;
  for (const auto& gateway : wanting) {
    if (out.count(gateway)) continue;
    while (next <= last_ && used.count(static_cast<uint32_t>(next))) ++next;
    if (next > last_) break;
    used.insert(static_cast<uint32_t>(next));
    out[gateway] = format_ipv4(static_cast<uint32_t>(next));
  }
  return out;
}

}  // namespace mg::route
