#pragma once
// What `mirrorgate mirrors` and `mirrorgate mirrors --diff` share: reading one of the admin listener's
// bounded rings (/mirrors, /mirrors/diff) page by page, following it with --follow, and the way both print
// times and pods.

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "admin/mirrors_command.h"

namespace mg::admin {

// "HH:MM:SS.mmm" (UTC) of a time in microseconds since the epoch.
std::string format_time(int64_t time_us);
// "pod (ip:port)", or whichever of the two is known, or "-".
std::string pod_or_host(const nlohmann::json& entry, const char* pod, const char* host);

// Asks `path` (with limit, since_us and request_id from `options`) for the array `key` of its reply and
// hands each entry to `on_entry`, oldest first; with options.follow, asks again every 500 ms for newer
// entries. `command` names the command in error messages. Returns the number of entries handed over,
// or -1 after writing why the admin listener could not be asked.
int64_t follow_admin_ring(const MirrorsCommandOptions& options, std::string_view command, std::string_view path,
                          std::string_view key, std::ostream& out, std::ostream& err,
                          const std::function<void(const nlohmann::json&)>& on_entry);

}  // namespace mg::admin
