#include "route/path_index.h"

#include <algorithm>
#include <bit>

namespace mg::route::detail {

uint64_t PathIndex::hash_of(std::string_view key) {
  uint64_t h = kSeed;
  for (size_t start = 0;;) {  // the same elements, in the same order, as visit() walks
    const size_t slash = key.find('/', start);
    h = fold_element(h, key.substr(start, slash - start));  // to the end when there is no slash
    if (slash == std::string_view::npos) return h;
    start = slash + 1;
  }
}

void PathIndex::add_exact(std::string_view path, uint32_t position) {
  insert(path).exact.push_back(position);
}

void PathIndex::add_prefix(std::string_view prefix, uint32_t position) {
  insert(prefix).prefix.push_back(position);
}

PathIndex::Entry& PathIndex::insert(std::string_view key) {
  const uint64_t hash = hash_of(key);
  if (!slots_.empty())
    if (const Entry* e = find(hash, key)) return entries_[static_cast<size_t>(e - entries_.data())];
  if (2 * (entries_.size() + 1) > slots_.size()) {  // keep it at most half full: short probes
    const size_t size = slots_.empty() ? 16 : 2 * slots_.size();
    slots_.assign(size, Slot{});
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(size));
    for (size_t e = 0; e < entries_.size(); ++e) place(hash_of(entries_[e].key), e);
  }
  entries_.push_back(Entry{std::string(key), {}, {}});
  min_key_ = std::min(min_key_, key.size());
  max_key_ = std::max(max_key_, key.size());
  place(hash, entries_.size() - 1);
  return entries_.back();
}

void PathIndex::place(uint64_t hash, size_t entry) {
  const size_t mask = slots_.size() - 1;
  size_t i = slot_of(hash);
  while (slots_[i].entry != 0) i = (i + 1) & mask;
  slots_[i] = Slot{static_cast<uint32_t>(entry + 1), static_cast<uint32_t>(hash)};
}

}  // namespace mg::route::detail
