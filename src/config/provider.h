#pragma once
// Where the gateway's objects come from. A provider delivers complete snapshots: the files of a
// directory today (server/file_provider.h), the Kubernetes API server later. The consumer translates
// each snapshot as a whole; a provider never sends deltas.

#include <functional>
#include <vector>

#include "config/objects.h"
#include "config/problem.h"

namespace mg::config {

class Provider {
 public:
  // A complete new set of objects, plus the objects that were left out of it (or kept at their previous
  // version) and why. Called on the provider's event loop, never concurrently with itself.
  using Callback = std::function<void(ObjectSet objects, std::vector<ConfigProblem> problems)>;

  virtual ~Provider() = default;

  // Delivers the first snapshot as soon as there is one, then one per change. May throw when there can
  // be no snapshot at all (e.g. the configured path does not exist).
  virtual void start(Callback on_update) = 0;
  // No callback runs after stop() returns.
  virtual void stop() = 0;
};

}  // namespace mg::config
