#pragma once
// metadata.generation for objects read from files. The API server sets it to 1 on create and bumps it
// on every spec change, so that status.observedGeneration can show which change a controller processed.
// Manifests usually set none; without this every object would stay at generation 1 forever.

#include "config/objects.h"

namespace mg::config {

// For each object of `next` whose manifest sets no generation: the generation of the same object (kind,
// namespace, name) in `previous`, plus one when its spec changed; 1 when it is new.
void carry_generations(const ObjectSet& previous, ObjectSet& next);

}  // namespace mg::config
