#pragma once
// The mirrorgate-echo HTTP/1.x server (and HTTP/2 with prior knowledge on its h2c port): one io_context per worker thread, each with its own SO_REUSEPORT
// acceptor on the same address, and each connection a coroutine that reads, routes, answers and repeats
// (keep-alive, pipelined requests answered in order, request bodies read and discarded).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "echo/echo_json.h"

namespace mg::echo {

struct ServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 3000;                      // 0: an ephemeral port, shared by all workers
  uint16_t h2c_port = 3001;                  // the h2c port of echo-basic.md 3.2 on the same address; 0: none
  std::chrono::milliseconds extra_delay{0};  // added before every echo answer (slow-backend tests)
  unsigned threads = 1;
  EchoEnv env;
};

// "ADDR:PORT" or "[v6]:PORT". False when malformed.
bool parse_listen_address(std::string_view text, std::string& host, uint16_t& port);

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every worker's acceptor. Returns a description of the failure, or empty on success.
  std::string listen();
  uint16_t port() const;
  // Runs the workers until stop(); call after listen(). Blocks.
  void run();
  // Thread-safe, also from a signal handler's io_context.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mg::echo
