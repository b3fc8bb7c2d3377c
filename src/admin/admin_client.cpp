#include "admin/admin_client.h"

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include "admin/admin_server.h"
#include "http/parser.h"

namespace mg::admin {

AdminReply admin_get(const std::string& address, const std::string& target, int timeout_ms, const std::string& token) {
  AdminReply reply;
  asio::ip::tcp::endpoint endpoint;
  try {
    endpoint = parse_host_port(address);
  } catch (const std::exception& e) {
    reply.error = e.what();
    return reply;
  }
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  std::error_code ec;
  socket.connect(endpoint, ec);
  if (ec) {
    reply.error = "cannot connect to the admin listener at " + address + ": " + ec.message();
    return reply;
  }
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + address + "\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
  request += "Connection: close\r\n\r\n";
  asio::write(socket, asio::buffer(request), ec);
  std::string data;
  char chunk[16384];
  while (!ec) {
    size_t n = socket.read_some(asio::buffer(chunk), ec);
    data.append(chunk, n);
  }
  if (ec != asio::error::eof) {
    reply.error = "reading the admin reply: " + ec.message();
    return reply;
  }
  http::ResponseHead head;
  auto parsed = http::parse_response_head(data, http::Limits{}, "GET", head);
  if (parsed.status != http::ParseStatus::kComplete) {
    reply.error = "malformed admin reply";
    return reply;
  }
  reply.status = head.status;
  reply.body = data.substr(head.head_length);
  return reply;
}

}  // namespace mg::admin
