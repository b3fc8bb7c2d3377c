#include "admin/page_assets.h"

namespace mg::admin {

const PageAsset* find_page_asset(std::string_view path) {
  for (const auto& asset : page_assets())
    if (asset.path == path) return &asset;
  return nullptr;
}

}  // namespace mg::admin
