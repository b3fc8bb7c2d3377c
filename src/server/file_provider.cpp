#include "server/file_provider.h"

#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <exception>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "config/loader.h"
#include "config/previous_versions.h"

namespace mg::server {
namespace {

void add_file(std::string& out, const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {  // stat follows symlinks: a swapped target counts as a change
    out += fmt::format("{}:missing\n", file.string());
    return;
  }
  out += fmt::format("{}:{}:{}.{}:{}\n", file.string(), st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                     st.st_ino);
}

}  // namespace

std::string config_fingerprint(const std::filesystem::path& path) {
  std::string out;
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    add_file(out, path);
    return out;
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    auto ext = entry.path().extension();
    if (ext == ".yaml" || ext == ".yml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) add_file(out, f);
  return out;
}

FileProvider::FileProvider(asio::io_context& io, std::filesystem::path path,
                           std::chrono::milliseconds interval)
    : path_(std::move(path)), interval_(interval), hangup_(io, SIGHUP), timer_(io) {}

FileProvider::~FileProvider() {
  stop();
}

void FileProvider::start(Callback on_update) {
  on_update_ = std::move(on_update);
  stopped_ = false;
  load();
  if (interval_.count() > 0) watch();
  wait_for_hangup();
}

void FileProvider::stop() {
  stopped_ = true;
  timer_.cancel();
  // SIGHUP stays claimed until destruction: one arriving while the gateway drains must not kill it.
  hangup_.cancel();
}

void FileProvider::load() {
  // Taken before reading, so that a change made while we read is noticed at the next poll.
  fingerprint_ = config_fingerprint(path_);
  config::LoadResult result;
  try {
    result = config::load_path_partial(path_);
  } catch (const std::exception& e) {
    if (!delivered_) throw;  // at start-up there is no previous version to keep
    // The path itself is gone (e.g. a directory being replaced): everything keeps its previous version.
    result.objects = previous_;
    config::ConfigProblem problem;
    problem.message = std::string(e.what()) + " (previous version kept)";
    result.problems.push_back(std::move(problem));
  }
  config::keep_previous_versions(previous_, result.objects, result.problems);
  previous_ = result.objects;
  delivered_ = true;
  spdlog::debug("file provider: {} delivers a snapshot with {} problem(s)", path_.string(), result.problems.size());
  on_update_(std::move(result.objects), std::move(result.problems));
}

void FileProvider::reload(std::string_view why) {
  spdlog::info("{}: reloading {}", why, path_.string());
  load();
}

void FileProvider::watch() {
  timer_.expires_after(interval_);
  timer_.async_wait([this](std::error_code ec) {
    if (ec || stopped_) return;
    if (config_fingerprint(path_) != fingerprint_) reload("config files changed");
    watch();
  });
}

void FileProvider::wait_for_hangup() {
  hangup_.async_wait([this](std::error_code ec, int) {
    if (ec || stopped_) return;
    reload("SIGHUP");
    wait_for_hangup();
  });
}

}  // namespace mg::server
