#include "admin/admin_auth.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "admin/admin_server.h"

namespace mg::admin {
namespace {

bool starts_with_scheme(std::string_view value, std::string_view scheme) {
  if (value.size() <= scheme.size() || value[scheme.size()] != ' ') return false;
  for (size_t i = 0; i < scheme.size(); ++i)  // schemes are case-insensitive (RFC 9110 11.1)
    if ((value[i] | 0x20) != (scheme[i] | 0x20)) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Standard base64 (RFC 4648 section 4), padding optional; false on a character outside the alphabet.
bool base64_decode(std::string_view in, std::string& out) {
  uint32_t bits = 0;
  int count = 0;
  for (char c : in) {
    if (c == '=') break;
    const size_t v = kBase64.find(c);
    if (v == std::string_view::npos) return false;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return true;
}

}  // namespace

std::string read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot read the admin token file {}", path));
  std::stringstream content;
  content << in.rdbuf();
  std::string token(trim(content.str()));
  if (token.empty()) throw std::runtime_error(fmt::format("the admin token file {} is empty", path));
  return token;
}

bool is_loopback(const asio::ip::address& address) {
  if (address.is_v4()) return address.to_v4().is_loopback();
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).is_loopback();
  return v6.is_loopback();
}

void require_token_off_loopback(const std::string& address, std::string_view token) {
  if (!token.empty() || is_loopback(parse_host_port(address).address())) return;
  throw std::runtime_error(fmt::format(
      "the admin listener {} is not on loopback: give --admin-token-file FILE (the bearer token every admin "
      "endpoint but /ready then asks for), or bind it to 127.0.0.1",
      address));
}

bool same_secret(std::string_view given, std::string_view expected) {
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i)
    difference |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  return difference == 0;
}

bool authorization_carries(std::string_view authorization, std::string_view token) {
  authorization = trim(authorization);
  if (starts_with_scheme(authorization, "Bearer")) return same_secret(trim(authorization.substr(7)), token);
  if (!starts_with_scheme(authorization, "Basic")) return false;
  std::string credentials;
  if (!base64_decode(trim(authorization.substr(6)), credentials)) return false;
  const size_t colon = credentials.find(':');
  if (colon == std::string::npos) return false;
  return same_secret(std::string_view(credentials).substr(colon + 1), token);
}

}  // namespace mg::admin
