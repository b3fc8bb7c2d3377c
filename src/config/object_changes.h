#pragma once
// Which kinds of objects a snapshot changed against the one before it. The gateway serves a change of
// EndpointSlices alone without translating the routes again (server/served_config.h), so "nothing else
// changed" must be exact: objects compare by value, metadata included (a Namespace's labels decide
// which routes a listener allows, a Service's ports which endpoints a cluster gets), in input order.
// Where an object was read from (file, line) is not part of it: an edit that moves the objects below it
// down a line changes none of them. Nor is its resourceVersion: a status write bumps it, and status is
// not what the gateway serves.

#include <string_view>
#include <vector>

#include "config/objects.h"

namespace mg::config {

// The kinds (as for_each_kind names them, in its order) whose objects differ between the two sets.
std::vector<std::string_view> changed_kinds(const ObjectSet& before, const ObjectSet& after);

}  // namespace mg::config
