#pragma once
// Which of the table's listeners a client connection belongs to. Listeners come and go with Gateways,
// so positions in the table change from one translation to the next: a connection knows where it was
// accepted (address and port) and finds its listener there in whichever table a request pinned, once
// per table (the table's generation says when it changed). Null when that listener went away.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "route/route_table.h"

namespace mg::proxy {

// Where a worker accepts: the bind address as the table writes it, and the port. Shared by the
// acceptor and its connections.
struct ListenerEndpoint {
  std::string address;
  uint16_t port = 0;
};

class ListenerSlot {
 public:
  explicit ListenerSlot(std::shared_ptr<const ListenerEndpoint> endpoint) : endpoint_(std::move(endpoint)) {}

  const route::Listener* resolve(const route::RouteTable& table) {
    if (table.generation == 0 || table.generation != generation_) {
      listener_ = endpoint_ ? table.listener_at(endpoint_->address, endpoint_->port) : nullptr;
      generation_ = table.generation;
    }
    return listener_;
  }
  const std::shared_ptr<const ListenerEndpoint>& endpoint() const { return endpoint_; }

  // The TLS server name (SNI) the client sent in its handshake; "" for plain HTTP or no SNI. Every
  // request of the connection is checked against it (route::Listener::misdirected).
  void set_server_name(std::string name) { server_name_ = std::move(name); }
  std::string_view server_name() const { return server_name_; }

 private:
  std::string server_name_;
  std::shared_ptr<const ListenerEndpoint> endpoint_;
  uint64_t generation_ = 0;
  const route::Listener* listener_ = nullptr;
};

}  // namespace mg::proxy
