#pragma once

// The Exact and PathPrefix matches of one virtual host, indexed by path, so that finding the ones a
// request path can match costs the same with 10 routes as with 10,000 (issue 13; it was a scan of every
// match, 2.2x the cost per request at 10,000 prefixes).
//
// A PathPrefix p (stored without its trailing '/', "/" as "") matches a path exactly when p is the part of
// the path in front of one of its element boundaries: the end of the path or a '/' ("/foo" matches
// "/foo" and "/foo/bar", never "/foobar"). So one pass along the path looks up each such part in one hash
// table: O(path length), whatever the number of routes. A key's hash folds the hashes of its elements (the
// text between '/'s), so the walk extends it an element at a time, reading 8 bytes per step. Exact paths
// live in the same table and are looked up once, with the whole path. (A trie of path segments walks the
// same way, but a node with 10,000 children needs a hash table of its own to stay flat; one table keyed by
// the whole prefix is less.)
//
// The index holds positions in the virtual host's precedence order, not a winner: the caller still checks
// method, headers and query parameters, and the lowest position that passes wins (route_table.cpp).

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mg::route::detail {

class PathIndex {
 public:
  // `position` is the match's place in its virtual host's precedence order; each list is kept ascending,
  // so positions must be added in ascending order.
  void add_exact(std::string_view path, uint32_t position);
  // `prefix` as CompiledMatch::path stores it: without trailing '/' ("/" is "").
  void add_prefix(std::string_view prefix, uint32_t position);

  // Calls on_list(std::span<const uint32_t>) for each list of positions whose path matches `path`, each
  // ascending: the Exact matches of `path`, then the PathPrefix matches of each of its boundaries, longest
  // prefix first, since that is usually precedence order and the first list then holds the winner. The order
  // of the lists only decides how much checking the caller does: it keeps the lowest position that passes.
  // Allocates nothing.
  template <typename OnList>
  void visit(std::string_view path, OnList&& on_list) const;

 private:
  struct Entry {
    std::string key;
    std::vector<uint32_t> exact;
    std::vector<uint32_t> prefix;
  };
  struct Slot {
    uint32_t entry = 0;  // index into entries_ + 1; 0: empty
    uint32_t tag = 0;    // low half of the key's hash, to pass over most other keys without reading them
  };

  static constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  // The hash of a key is the fold of fold_element over its elements, from kSeed.
  static constexpr uint64_t kSeed = 0x243F6A8885A308D3ull;
  static uint64_t fold_element(uint64_t h, std::string_view element);
  static uint64_t hash_of(std::string_view key);
  size_t slot_of(uint64_t hash) const { return static_cast<size_t>((hash * kMul) >> shift_); }
  const Entry* find(uint64_t hash, std::string_view key) const;
  Entry& insert(std::string_view key);
  void place(uint64_t hash, size_t entry);

  std::vector<Entry> entries_;
  std::vector<Slot> slots_;  // open addressing, linear probing; a power of two, at most half full
  unsigned shift_ = 64;      // 64 - log2(slots_.size())
  // Lengths of the shortest and longest key: a walk looks up nothing shorter and stops before anything
  // longer, so a long request path costs no more than the routes' own paths.
  size_t min_key_ = SIZE_MAX;
  size_t max_key_ = 0;
};

inline const PathIndex::Entry* PathIndex::find(uint64_t hash, std::string_view key) const {
  const size_t mask = slots_.size() - 1;
  const auto tag = static_cast<uint32_t>(hash);
  for (size_t i = slot_of(hash);; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.entry == 0) return nullptr;
    if (s.tag == tag && entries_[s.entry - 1].key == key) return &entries_[s.entry - 1];
  }
}

inline uint64_t PathIndex::fold_element(uint64_t h, std::string_view element) {
  h = (h ^ element.size()) * kMul;
  size_t i = 0;
  for (; i + 8 <= element.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, element.data() + i, 8);
    h = (h ^ word) * kMul;
    h ^= h >> 29;
  }
  if (i < element.size()) {
    uint64_t word = 0;
    for (unsigned shift = 0; i < element.size(); ++i, shift += 8)
      word |= uint64_t{static_cast<unsigned char>(element[i])} << shift;
    h = (h ^ word) * kMul;
    h ^= h >> 29;
  }
  return h;
}

template <typename OnList>
void PathIndex::visit(std::string_view path, OnList&& on_list) const {
  if (entries_.empty()) return;
  // Prefix lists are found shortest first and visited longest first. A path with more of them than fit
  // here (a deep tree of prefixes) has the longer ones visited as they are found.
  std::array<const Entry*, 16> found;
  size_t n = 0;
  uint64_t h = kSeed;
  for (size_t start = 0;;) {  // the element path[start, end) ends at a boundary
    size_t end = start;       // elements are short: a loop is cheaper than a memchr call
    while (end <= max_key_ && end < path.size() && path[end] != '/') ++end;
    if (end > max_key_) break;  // no key is longer
    h = fold_element(h, path.substr(start, end - start));
    if (end >= min_key_) {
      if (const Entry* e = find(h, path.substr(0, end))) {
        if (end == path.size() && !e->exact.empty()) on_list(std::span<const uint32_t>(e->exact));
        if (!e->prefix.empty()) {
          if (n < found.size()) {
            found[n++] = e;
          } else {
            on_list(std::span<const uint32_t>(e->prefix));
          }
        }
      }
    }
    if (end == path.size()) break;
    start = end + 1;
  }
  while (n > 0) on_list(std::span<const uint32_t>(found[--n]->prefix));
}

}  // namespace mg::route::detail
