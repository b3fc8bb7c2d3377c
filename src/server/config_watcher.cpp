#include "server/config_watcher.h"

#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include <fmt/format.h>

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

}  // namespace mg::server
