#pragma once
// What the watches have seen, decoded: each object the API server holds in a watched scope, decoded
// once when it arrives (config/loader.h, the same per-object decoding files get), so that a snapshot
// only gathers objects. Shared between the watch threads, which write, and the provider's loop, which
// reads; one lock, held briefly.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <optional>

#include <nlohmann/json.hpp>

#include "config/loader.h"
#include "k8s/api_resources.h"

namespace mg::k8s {

struct StoredObject {
  std::string kind;
  std::string resource_version;
  nlohmann::json status;        // as the API server holds it (the status writer compares against it)
  config::LoadResult decoded;  // the object, or the problem that left it out
};

// What the status writer needs of an object the API server holds.
struct LiveObject {
  std::string resource_version;
  nlohmann::json status;
};

// Decodes one object as the API server sent it (list items lack kind and apiVersion; they are the
// resource's).
StoredObject decode_object(const ApiResource& resource, nlohmann::json object);

class ObjectStore {
 public:
  using Key = std::string;  // "namespace/name", or "name" for cluster-scoped kinds

  // Each watch owns one scope (a resource, in one namespace or all): a list replaces the scope's
  // objects, events change them one by one.
  void replace(int scope, std::map<Key, StoredObject> objects);
  // Returns false when only the object's status or resourceVersion changed (a status write, ours
  // included): that is kept for the status writer, but no snapshot needs to see it.
  bool upsert(int scope, const Key& key, StoredObject object);
  void erase(int scope, const Key& key);
  void drop_scope(int scope);

  // The object of that kind and key ("namespace/name", or "name"), as last seen by its watch.
  std::optional<LiveObject> live(std::string_view kind, const Key& key) const;

  // Counts changes; a snapshot taken at version V holds every change up to V.
  uint64_t version() const;
  // Every object, scope by scope (in scope order) and by key within one, with the problems of those
  // left out.
  config::LoadResult snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<int, std::map<Key, StoredObject>> scopes_;
  uint64_t version_ = 0;
};

}  // namespace mg::k8s
