// mirrorgate-echo: the Gateway API conformance echo server (echo-basic, HTTP mode), in C++.
// Options and environment are described in docs/echo.md.

#include <CLI/CLI.hpp>
#include <asio.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "common/version.h"
#include "echo/server.h"

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::string(v) : std::string(fallback);
}

}  // namespace

int main(int argc, char** argv) {
  mg::echo::ServerOptions options;
  options.env.http_port = env_or("HTTP_PORT", "3000");
  options.env.namespace_name = env_or("NAMESPACE", "");
  options.env.ingress = env_or("INGRESS_NAME", "");
  options.env.service = env_or("SERVICE_NAME", "");
  options.env.pod = env_or("POD_NAME", "");

  std::string listen = "0.0.0.0:" + options.env.http_port;
  int64_t delay_ms = 0;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());

  CLI::App app{"mirrorgate-echo: Gateway API conformance echo server (HTTP mode of echo-basic)"};
  app.set_version_flag("--version", "mirrorgate-echo " + std::string(mg::version()) + " (commit " +
                                        std::string(mg::build_commit()) + ")");
  app.add_option("--listen", listen, "ADDR:PORT to listen on ([v6]:PORT for IPv6; port 0 = ephemeral)")
      ->capture_default_str();
  app.add_option("--h2c-port", options.h2c_port,
                 "port of the h2c listener on the --listen address (HTTP/2 prior knowledge, no router; 0 = none)")
      ->capture_default_str();
  app.add_option("--delay", delay_ms, "milliseconds added before every echo answer")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--threads", threads, "worker threads, each with its own listening socket")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (!mg::echo::parse_listen_address(listen, options.host, options.port)) {
    std::fprintf(stderr, "invalid --listen address: %s (want ADDR:PORT or [V6]:PORT)\n", listen.c_str());
    return 2;
  }
  options.extra_delay = std::chrono::milliseconds(delay_ms);
  options.threads = threads;

  mg::echo::Server server(options);
  if (std::string error = server.listen(); !error.empty()) {
    std::fprintf(stderr, "Failed to start listening on %s: %s\n", listen.c_str(), error.c_str());
    return 1;
  }

  // Signals are waited for on their own small loop so that the workers stay free of anything global.
  asio::io_context signal_ctx(1);
  asio::signal_set signals(signal_ctx, SIGINT, SIGTERM);
  signals.async_wait([&server](const asio::error_code& ec, int) {
    if (!ec) server.stop();
  });
  std::thread signal_thread([&signal_ctx] { signal_ctx.run(); });

  std::printf("Starting server, listening on port %u (http)\n", static_cast<unsigned>(server.port()));
  if (options.h2c_port != 0)
    std::printf("Starting server, listening on port %u (h2c)\n", static_cast<unsigned>(options.h2c_port));
  std::fflush(stdout);
  server.run();

  signal_ctx.stop();
  signal_thread.join();
  std::fflush(stdout);
  return 0;
}
