#include "net/exclusive_port.h"

namespace mg::net {

std::error_code probe_port_is_free(const asio::ip::tcp::endpoint& endpoint) {
  std::error_code ec;
  if (endpoint.port() == 0) return ec;
  asio::io_context io;
  asio::ip::tcp::acceptor probe(io);
  probe.open(endpoint.protocol(), ec);
  // SO_REUSEADDR: a port whose old connections linger in TIME_WAIT is free; one with a listener is not.
  if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) probe.bind(endpoint, ec);
  std::error_code ignored;
  probe.close(ignored);
  return ec;
}

}  // namespace mg::net
