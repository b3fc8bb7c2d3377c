#pragma once
// Process-wide settings from the command line. Each has a default an Envoy or nginx user would expect.

#include <chrono>
#include <cstddef>
#include <string>

#include "http/message.h"

namespace mg::net {

struct GatewayOptions {
  std::string config_path;
  size_t workers = 0;  // 0: one per core
  std::string admin_address = "127.0.0.1:9901";
  std::string access_log = "-";  // "-" stdout, "off", or a file path
  std::string log_level = "info";

  http::Limits limits;
  uint64_t max_request_body = 0;       // bytes; 0 = unlimited (bodies stream); beyond: 413
  size_t max_connections_per_worker = 16384;  // beyond: new connections are closed at once (counted)
  std::chrono::milliseconds header_timeout{10'000};     // whole request head, from its first byte
  std::chrono::milliseconds idle_timeout{60'000};       // keep-alive connection with no request
  std::chrono::milliseconds connect_timeout{5'000};     // upstream TCP connect
  std::chrono::milliseconds response_timeout{15'000};   // upstream response head, as Envoy's route default
  std::chrono::milliseconds upstream_idle_timeout{60'000};  // idle pooled upstream connection (nginx's 60 s)
  std::chrono::milliseconds drain_timeout{5'000};       // SIGTERM: time for in-flight requests
  std::chrono::milliseconds watch_interval{1'000};      // config file polling; 0 = only SIGHUP reloads

  std::chrono::milliseconds mirror_timeout{5'000};      // a whole mirror exchange
  size_t mirror_body_limit = 8 * 1024 * 1024;           // larger bodies are not mirrored (counted)
  size_t mirror_max_in_flight = 1024;                   // per worker, all mirror backends: a safety cap
  // Per mirror backend, per worker, when no MirrorPolicy sets them: beyond, copies are dropped (counted).
  size_t mirror_backend_max_in_flight = 256;
  uint64_t mirror_backend_max_bytes = 64ull * 1024 * 1024;  // request bytes of the copies in flight
};

}  // namespace mg::net
