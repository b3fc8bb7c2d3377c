#pragma once
// The config::Provider of a manifest file or directory (-c): reloads when a file changes (polled every
// --watch-interval) and on SIGHUP. Polling a cheap fingerprint (names, sizes, modification times, inodes)
// rather than inotify also catches the symlink swap Kubernetes uses to update a mounted ConfigMap, and
// works on any filesystem.

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include "config/objects.h"
#include "config/provider.h"

namespace mg::server {

// A summary of PATH (a file, or a directory's *.yaml/*.yml files) that changes when any of them does.
std::string config_fingerprint(const std::filesystem::path& path);

class FileProvider final : public config::Provider {
 public:
  // Callbacks run on `io`. SIGHUP is claimed here, so construct this before any thread starts: a SIGHUP
  // must never meet its default action (exit). An interval of 0 reloads on SIGHUP only.
  FileProvider(asio::io_context& io, std::filesystem::path path, std::chrono::milliseconds interval);
  ~FileProvider() override;

  // Loads the files and calls on_update before returning. Throws config::ConfigError when the path does
  // not exist.
  void start(Callback on_update) override;
  void stop() override;

 private:
  void load();
  void reload(std::string_view why);
  void watch();
  void wait_for_hangup();

  std::filesystem::path path_;
  std::chrono::milliseconds interval_;
  asio::signal_set hangup_;
  asio::steady_timer timer_;
  Callback on_update_;
  std::string fingerprint_;
  // The set delivered last: an object whose new version cannot be read keeps its version from here.
  config::ObjectSet previous_;
  bool delivered_ = false;
  bool stopped_ = true;
};

}  // namespace mg::server
