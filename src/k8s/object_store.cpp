#include "k8s/object_store.h"

#include <algorithm>

#include "config/object_changes.h"

namespace mg::k8s {

namespace {

bool same_problems(const std::vector<config::ConfigProblem>& a, const std::vector<config::ConfigProblem>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const auto& x, const auto& y) { return x.message == y.message; });
}

}  // namespace

StoredObject decode_object(const ApiResource& resource, nlohmann::json object) {
  StoredObject stored;
  stored.kind = resource.kind;
  if (!object.is_object()) {
    config::ConfigProblem problem;
    problem.message = "apiserver: " + resource.kind + ": not an object";
    problem.kind = resource.kind;
    stored.decoded.problems.push_back(std::move(problem));
    return stored;
  }
  if (!object.contains("kind")) object["kind"] = resource.kind;
  if (!object.contains("apiVersion")) object["apiVersion"] = resource.api_version;
  if (auto md = object.find("metadata"); md != object.end() && md->is_object()) {
    if (auto rv = md->find("resourceVersion"); rv != md->end() && rv->is_string()) stored.resource_version = *rv;
    md->erase("managedFields");  // large, and nothing mirrorgate reads
  }
  if (auto status = object.find("status"); status != object.end()) stored.status = std::move(*status);
  // JSON is YAML: the loader reads the object as it reads a manifest, with the same checks.
  stored.decoded = config::load_string_partial(object.dump(), "apiserver");
  return stored;
}

void ObjectStore::replace(int scope, std::map<Key, StoredObject> objects) {
  std::lock_guard lock(mutex_);
  scopes_[scope] = std::move(objects);
  ++version_;
}

bool ObjectStore::upsert(int scope, const Key& key, StoredObject object) {
  std::lock_guard lock(mutex_);
  StoredObject& slot = scopes_[scope][key];
  const bool same_content = !slot.kind.empty() &&
                            config::changed_kinds(slot.decoded.objects, object.decoded.objects).empty() &&
                            same_problems(slot.decoded.problems, object.decoded.problems);
  slot = std::move(object);
  if (!same_content) ++version_;
  return !same_content;
}

void ObjectStore::erase(int scope, const Key& key) {
  std::lock_guard lock(mutex_);
  scopes_[scope].erase(key);
  ++version_;
}

void ObjectStore::drop_scope(int scope) {
  std::lock_guard lock(mutex_);
  if (scopes_.erase(scope)) ++version_;
}

std::optional<LiveObject> ObjectStore::live(std::string_view kind, const Key& key) const {
  std::lock_guard lock(mutex_);
  for (const auto& [scope, objects] : scopes_) {
    const auto it = objects.find(key);
    if (it != objects.end() && it->second.kind == kind) return LiveObject{it->second.resource_version, it->second.status};
  }
  return std::nullopt;
}

uint64_t ObjectStore::version() const {
  std::lock_guard lock(mutex_);
  return version_;
}

config::LoadResult ObjectStore::snapshot() const {
  config::LoadResult out;
  std::lock_guard lock(mutex_);
  for (const auto& [scope, objects] : scopes_) {
    for (const auto& [key, stored] : objects) {
      const auto& set = stored.decoded.objects;
      config::for_each_kind([&](std::string_view, auto member) {
        auto& into = out.objects.*member;
        into.insert(into.end(), (set.*member).begin(), (set.*member).end());
      });
      out.objects.ignored_objects += set.ignored_objects;
      out.problems.insert(out.problems.end(), stored.decoded.problems.begin(), stored.decoded.problems.end());
    }
  }
  return out;
}

}  // namespace mg::k8s
