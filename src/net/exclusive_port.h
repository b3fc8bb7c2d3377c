#pragma once
// Listening ports are shared by a process's workers through SO_REUSEPORT, which also lets any other
// process of the same user join the group: the kernel would then split connections between two
// servers without a word. A probe bind without SO_REUSEPORT, made before the workers bind, fails
// while anyone listens on the address, so a second process stops at start with "address in use".

#include <system_error>

#include <asio/ip/tcp.hpp>

namespace mg::net {

// Empty when nothing listens on `endpoint` now (port 0 always passes: the kernel picks a free one).
std::error_code probe_port_is_free(const asio::ip::tcp::endpoint& endpoint);

}  // namespace mg::net
