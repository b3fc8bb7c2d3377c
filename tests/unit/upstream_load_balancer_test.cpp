// Round robin survives a new ClusterSet: the next pick of a cluster that is still there continues its
// rotation, whether only endpoints changed (same indices) or a new table numbers the clusters otherwise.
// A cluster restarted at a random offset would land on the expected endpoint one time in three, so
// every test checks many changes in a row.

#include "upstream/load_balancer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mg::upstream {
namespace {

using Clusters = std::vector<std::pair<std::string, std::vector<std::string>>>;  // name -> endpoint ips

std::shared_ptr<const route::ClusterSet> cluster_set(const Clusters& clusters) {
  auto set = std::make_shared<route::ClusterSet>();
  for (const auto& [name, ips] : clusters) {
    route::ClusterEndpoints c{name, {}};
    for (const auto& ip : ips) c.endpoints.push_back(route::Endpoint{ip, 3000, "", ip + ":3000"});
    set->clusters.push_back(std::move(c));
  }
  return set;
}

const std::vector<std::string> kWeb = {"10.0.0.1", "10.0.0.2", "10.0.0.3"};

// Where the pick sits in kWeb.
size_t position(const route::Endpoint* e) {
  EXPECT_NE(e, nullptr);
  return e ? static_cast<size_t>(std::find(kWeb.begin(), kWeb.end(), e->ip) - kWeb.begin()) : kWeb.size();
}

TEST(LoadBalancer, ANewClusterSetKeepsTheRoundRobinPosition) {
  LoadBalancer balancer;
  auto set = cluster_set({{"ns/web:80", kWeb}, {"ns/api:80", {"10.0.1.1"}}});
  balancer.follow(set);
  size_t last = position(balancer.pick_endpoint(*set, 0));
  for (int change = 0; change < 30; ++change) {
    // Another cluster's pods moved: a new set for the same table, web at the same index.
    set = cluster_set({{"ns/web:80", kWeb}, {"ns/api:80", {"10.0.1." + std::to_string(change + 2)}}});
    balancer.follow(set);
    const size_t next = position(balancer.pick_endpoint(*set, 0));
    ASSERT_EQ(next, (last + 1) % kWeb.size()) << "after change " << change;
    last = next;
  }
}

TEST(LoadBalancer, ANewTableFindsTheCursorByName) {
  LoadBalancer balancer;
  auto set = cluster_set({{"ns/web:80", kWeb}});
  balancer.follow(set);
  size_t last = position(balancer.pick_endpoint(*set, 0));
  for (int change = 0; change < 30; ++change) {
    // A new table with one more cluster in front: web moves from index 0 to 1 and back.
    const bool shifted = change % 2 == 0;
    set = shifted ? cluster_set({{"ns/new:80", {"10.0.2.1"}}, {"ns/web:80", kWeb}})
                  : cluster_set({{"ns/web:80", kWeb}});
    balancer.follow(set);
    const size_t next = position(balancer.pick_endpoint(*set, shifted ? 1 : 0));
    ASSERT_EQ(next, (last + 1) % kWeb.size()) << "after change " << change;
    last = next;
  }
}

TEST(LoadBalancer, ARequestOnTheSetBeforeSharesTheRotation) {
  // A request in flight pinned the previous set: its retry picks there, by name, from the same cursor.
  LoadBalancer balancer;
  const auto before = cluster_set({{"ns/web:80", kWeb}});
  const auto after = cluster_set({{"ns/new:80", {"10.0.2.1"}}, {"ns/web:80", kWeb}});
  balancer.follow(before);
  size_t last = position(balancer.pick_endpoint(*before, 0));
  balancer.follow(after);
  for (int pick = 0; pick < 30; ++pick) {
    const size_t next =
        position(pick % 2 ? balancer.pick_endpoint(*before, 0) : balancer.pick_endpoint(*after, 1));
    ASSERT_EQ(next, (last + 1) % kWeb.size()) << "pick " << pick;
    last = next;
  }
}

TEST(LoadBalancer, NoEndpointForAnEmptyOrUnknownCluster) {
  LoadBalancer balancer;
  const auto set = cluster_set({{"ns/empty:80", {}}});
  balancer.follow(set);
  EXPECT_EQ(balancer.pick_endpoint(*set, 0), nullptr);
  EXPECT_EQ(balancer.pick_endpoint(*set, 1), nullptr);
  EXPECT_EQ(balancer.pick_endpoint(*set, -1), nullptr);
}

}  // namespace
}  // namespace mg::upstream
