#pragma once
// Notices when the config files change, by polling a cheap fingerprint (names, sizes and modification
// times). Polling rather than inotify also catches the symlink swap Kubernetes uses to update a mounted
// ConfigMap, and works on any filesystem.

#include <filesystem>
#include <string>

namespace mg::server {

// A summary of PATH (a file, or a directory's *.yaml/*.yml files) that changes when any of them does.
std::string config_fingerprint(const std::filesystem::path& path);

}  // namespace mg::server
