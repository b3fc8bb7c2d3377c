#pragma once
// A minimal blocking HTTP/1.1 client for the command-line tools that ask a running gateway's admin
// listener (`mirrorgate mirrors`). Not for the data plane.

#include <string>

namespace mg::admin {

struct AdminReply {
  int status = 0;
  std::string body;
  std::string error;  // set when no reply could be had (connection refused, timeout...)
};

// `token`: sent as "Authorization: Bearer" when not empty (an admin listener off loopback asks for it).
AdminReply admin_get(const std::string& address, const std::string& target, int timeout_ms = 5000,
                     const std::string& token = {});

}  // namespace mg::admin
