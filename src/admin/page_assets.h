#pragma once
// The admin page's files (src/admin/page/), embedded in the binary at build time (cmake/embed_files.cmake
// generates page_assets()): the page works with nothing fetched from anywhere but the admin listener.

#include <span>
#include <string_view>

namespace mg::admin {

struct PageAsset {
  std::string_view path;  // "/" for index.html, "/page/NAME" for the others
  std::string_view content_type;
  std::string_view body;
};

std::span<const PageAsset> page_assets();

// The asset served at `path`, or nullptr.
const PageAsset* find_page_asset(std::string_view path);

}  // namespace mg::admin
