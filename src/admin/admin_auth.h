#pragma once
// Who may read the admin listener. On loopback, whoever runs on the host may (as with Envoy's admin).
// Bound anywhere else it asks for a bearer token: a pod IP that kubelets and Prometheus reach is reachable
// by every workload of the cluster, and the configuration, status and mirror trace are not theirs to read.
// /ready stays open (kubelet probes send no token; it says only LIVE or NOT READY).

#include <string>
#include <string_view>

#include <asio/ip/address.hpp>

namespace mg::admin {

// The token held in `path`, without the trailing newline that `echo` and most editors add. Throws
// std::runtime_error when the file cannot be read or holds no token.
std::string read_token_file(const std::string& path);

// 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool is_loopback(const asio::ip::address& address);

// Throws std::runtime_error with what to do when `address` ("ADDR:PORT") is not loopback and `token` is
// empty: such a listener would serve anyone who can reach it.
void require_token_off_loopback(const std::string& address, std::string_view token);

// Whether an Authorization header value carries `token`: "Bearer <token>" (API clients, Prometheus), or
// "Basic" credentials whose password is the token (what a browser sends after its login prompt; the user
// name is ignored). The comparison takes the same time wherever the first difference is.
bool authorization_carries(std::string_view authorization, std::string_view token);

// Whether two secrets are equal, in a time that depends on the length of `expected` only.
bool same_secret(std::string_view given, std::string_view expected);

}  // namespace mg::admin
