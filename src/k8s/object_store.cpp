#include "k8s/object_store.h"

#include <algorithm>
#include <functional>
#include <map>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/object_changes.h"
#include "k8s/json_to_yaml.h"

namespace mg::k8s {

namespace {

// What is kept of an object the loader refused, per kind: the fields that say where its status goes. An
// A route keeps its parents (each gets Accepted=False), a Gateway its class, a policy its targets.
const std::map<std::string, std::vector<std::string>, std::less<>> kStatusFields = {
    {"HTTPRoute", {"parentRefs"}},
    {"TLSRoute", {"parentRefs"}},
    {"Gateway", {"gatewayClassName"}},
    {"MirrorPolicy", {"targetRefs"}},
    {"ClientTrafficPolicy", {"targetRefs"}},
    {"BackendTLSPolicy", {"targetRefs"}},
};

// "apiserver: HTTPRoute default/web: spec.rules[0]...: problem" -> "spec.rules[0]...: problem".
std::string without_location(const config::ConfigProblem& problem) {
  const std::string who = problem.kind + " " + (problem.namespace_.empty() ? "" : problem.namespace_ + "/") +
                          problem.name + ": ";
  const size_t at = problem.message.find(who);
  return at == std::string::npos ? problem.message : problem.message.substr(at + who.size());
}

// The object the loader refused, reduced to the fields status needs and decoded again, with the reason
// in metadata.refused; nothing when even those fields do not decode.
config::ObjectSet refused_skeleton(const nlohmann::json& object, const config::ConfigProblem& problem) {
  const auto fields = kStatusFields.find(problem.kind);
  if (fields == kStatusFields.end() || problem.name.empty()) return {};
  nlohmann::json skeleton = {{"apiVersion", object.value("apiVersion", "")},
                             {"kind", object.value("kind", "")},
                             {"metadata", object.value("metadata", nlohmann::json::object())},
                             {"spec", nlohmann::json::object()}};
  const nlohmann::json spec = object.value("spec", nlohmann::json::object());
  for (const auto& field : fields->second)
    if (spec.is_object() && spec.contains(field)) skeleton["spec"][field] = spec[field];
  if (problem.kind == "Gateway") skeleton["spec"]["listeners"] = nlohmann::json::array();
  config::LoadResult decoded = config::load_node_partial(yaml_of(skeleton), "apiserver");
  if (!decoded.problems.empty()) return {};
  const std::string reason = without_location(problem);
  config::for_each_kind([&](std::string_view, auto member) {
    for (auto& o : decoded.objects.*member) o.metadata.refused = reason;
  });
  return std::move(decoded.objects);
}

// A Service's status.loadBalancer.ingress: what --publish-service reports as Gateway addresses.
std::vector<config::GatewayAddress> ingress_of(const nlohmann::json& status) {
  std::vector<config::GatewayAddress> out;
  const nlohmann::json* ingress = nullptr;
  if (status.is_object() && status.contains("loadBalancer") && status["loadBalancer"].is_object())
    if (auto it = status["loadBalancer"].find("ingress"); it != status["loadBalancer"].end() && it->is_array())
      ingress = &*it;
  if (!ingress) return out;
  for (const auto& entry : *ingress) {
    if (!entry.is_object()) continue;
    if (auto ip = entry.find("ip"); ip != entry.end() && ip->is_string() && !ip->get<std::string>().empty())
      out.push_back({"IPAddress", *ip});
    else if (auto host = entry.find("hostname"); host != entry.end() && host->is_string() && !host->get<std::string>().empty())
      out.push_back({"Hostname", *host});
  }
  return out;
}

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
  // The loader reads the object as it reads a manifest, with the same checks.
  stored.decoded = config::load_node_partial(yaml_of(object), "apiserver");
  if (stored.decoded.problems.size() == 1)
    stored.decoded.objects = refused_skeleton(object, stored.decoded.problems.front());
  for (auto& service : stored.decoded.objects.services) service.load_balancer_ingress = ingress_of(stored.status);
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
