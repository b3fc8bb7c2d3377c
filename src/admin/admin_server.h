#pragma once
// The admin listener (like Envoy's admin interface): /ready, /metrics (Prometheus), /config_dump
// (the route table a person can read). Runs on its own thread so a slow scrape never touches a worker.
// With a token, every endpoint but /ready asks for it (admin_auth.h).

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "stats/prometheus_text.h"

namespace mg::admin {

struct AdminHandlers {
  std::function<bool()> ready;                // listeners bound and serving
  // Every metric family in the format the scraper asked for (Accept), without OpenMetrics' `# EOF`.
  std::function<std::string(stats::ExpositionFormat)> metrics;
  std::function<std::string()> status;        // JSON: Gateway API objects with computed status
  std::function<std::string()> config_dump;   // JSON
  std::function<std::string(std::string_view query)> mirrors;  // JSON of recent mirror outcomes
  std::function<std::string(std::string_view query)> mirror_diff;  // JSON of recent response mismatches
  std::function<std::string()> topology;      // JSON: what the admin page draws (topology.h)
};

class AdminServer {
 public:
  // Binds at once (throws with a clear message if the address is unusable, or is not loopback and
  // `token` is empty); serves after start().
  AdminServer(const std::string& address, AdminHandlers handlers, std::string token = {});
  ~AdminServer();
  void start();
  void stop();
  uint16_t port() const { return port_; }

 private:
  asio::io_context io_{1};
  asio::ip::tcp::acceptor acceptor_{io_};
  AdminHandlers handlers_;
  std::string token_;  // empty: no Authorization asked
  uint16_t port_ = 0;
  std::thread thread_;
};

// "ADDR:PORT" or "[v6]:PORT" to an endpoint; throws std::invalid_argument with the reason.
asio::ip::tcp::endpoint parse_host_port(const std::string& text);

}  // namespace mg::admin
