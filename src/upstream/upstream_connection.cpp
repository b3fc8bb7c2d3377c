#include "upstream/upstream_connection.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "net/socket_watchdog.h"

namespace mg::upstream {

asio::awaitable<ConnectResult> connect_to_address(std::string_view ip, uint16_t port, std::chrono::milliseconds timeout) {
  ConnectResult result;
  std::error_code ec;
  asio::ip::address address = asio::ip::make_address(std::string(ip), ec);
  if (ec) {
    result.error = ec;
    co_return result;
  }
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(executor);
  asio::ip::tcp::endpoint endpoint(address, port);
  net::SocketWatchdog watchdog(socket);
  watchdog.arm(timeout);
  auto [connect_ec] = co_await socket.async_connect(endpoint, asio::experimental::as_tuple(asio::use_awaitable));
  watchdog.disarm();
  if (connect_ec || watchdog.fired()) {
    result.error = connect_ec ? connect_ec : std::make_error_code(std::errc::timed_out);
    result.timed_out = watchdog.fired();
    co_return result;
  }
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  result.connection = std::make_unique<UpstreamConnection>(UpstreamStream(std::move(socket)));
  result.connection->key = fmt::format("{}:{}", ip, port);
  co_return result;
}

}  // namespace mg::upstream
