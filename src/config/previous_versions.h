#pragma once
// On a reload, an object whose new version is invalid keeps the version already running, as the API
// server keeps an object whose update it refused: a typo in a route being edited must not make the route
// disappear. A new object that is invalid has no previous version and stays out.

#include <vector>

#include "config/objects.h"
#include "config/problem.h"

namespace mg::config {

// For each problem: the object it names (or, when its file could not be split into objects, every object
// that came from that file) is copied from `previous` into `next` unless `next` has an object of that
// kind, namespace and name already; the problem's message then ends in "(previous version kept)".
void keep_previous_versions(const ObjectSet& previous, ObjectSet& next,
                            std::vector<ConfigProblem>& problems);

}  // namespace mg::config
