// Per-mirror-backend budgets of copies in flight: counts and bytes per backend, the worker-wide cap,
// and the release of a slot however it ends (destroyed, moved from, reset).

#include <gtest/gtest.h>

#include <optional>
#include <utility>

#include "mirror/mirror_budget.h"

namespace mg::mirror {
namespace {

constexpr BudgetLimits kLimits{.worker_copies = 10, .backend_copies = 2, .backend_bytes = 1000};

TEST(MirrorBudgets, DropsCopyWhenBackendCopiesFull) {
  uint64_t gauge = 0;
  MirrorBudgets budgets(gauge);
  auto a = budgets.try_acquire("ns/m:80", 10, kLimits);
  auto b = budgets.try_acquire("ns/m:80", 10, kLimits);
  auto c = budgets.try_acquire("ns/m:80", 10, kLimits);
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
  EXPECT_FALSE(c);
  EXPECT_EQ(budgets.usage("ns/m:80").copies, 2u);
  EXPECT_EQ(budgets.usage("ns/m:80").bytes, 20u);
  EXPECT_EQ(gauge, 2u);
}

TEST(MirrorBudgets, DropsCopyWhenBackendBytesFull) {
  uint64_t gauge = 0;
  MirrorBudgets budgets(gauge);
  auto a = budgets.try_acquire("ns/m:80", 600, kLimits);
  EXPECT_TRUE(a);
  EXPECT_FALSE(budgets.try_acquire("ns/m:80", 401, kLimits));
  EXPECT_TRUE(budgets.try_acquire("ns/m:80", 400, kLimits));  // exactly fills it, released at once
  EXPECT_EQ(budgets.usage("ns/m:80").bytes, 600u);
}

TEST(MirrorBudgets, CopyLargerThanTheWholeBytesBudgetNeverFits) {
  uint64_t gauge = 0;
  MirrorBudgets budgets(gauge);
  EXPECT_FALSE(budgets.try_acquire("ns/m:80", 1001, kLimits));
  EXPECT_EQ(gauge, 0u);
  EXPECT_EQ(budgets.usage("ns/m:80").copies, 0u);
}

TEST(MirrorBudgets, BackendsHaveTheirOwnBudgets) {
  uint64_t gauge = 0;
  MirrorBudgets budgets(gauge);
  auto a1 = budgets.try_acquire("ns/slow:80", 1, kLimits);
  auto a2 = budgets.try_acquire("ns/slow:80", 1, kLimits);
  EXPECT_FALSE(budgets.try_acquire("ns/slow:80", 1, kLimits));
  // A full slow backend leaves the other backend's budget untouched.
  auto b1 = budgets.try_acquire("ns/fast:80", 1, kLimits);
  auto b2 = budgets.try_acquire("ns/fast:80", 1, kLimits);
  EXPECT_TRUE(b1);
  EXPECT_TRUE(b2);
}

TEST(MirrorBudgets, WorkerCapAppliesAcrossBackends) {
  uint64_t gauge = 0;
  MirrorBudgets budgets(gauge);
  BudgetLimits limits = kLimits;
  limits.worker_copies = 3;
  auto a = budgets.try_acquire("ns/a:80", 1, limits);
  auto b = budgets.try_acquire("ns/b:80", 1, limits);
  auto c = budgets.try_acquire("ns/c:80", 1, limits);
  EXPECT_TRUE(a && b && c);
  EXPECT_FALSE(budgets.try_acquire("ns/d:80", 1, limits));
  EXPECT_EQ(budgets.worker_copies(), 3u);
}

TEST(MirrorBudgets, SlotReleasesWhenDestroyedMovedOrReset) {
  uint64_t gauge = 0;
  MirrorBudgets budgets(gauge);
  {
    auto slot = budgets.try_acquire("ns/m:80", 100, kLimits);
    EXPECT_EQ(budgets.usage("ns/m:80").copies, 1u);
  }
  EXPECT_EQ(budgets.usage("ns/m:80").copies, 0u);
  EXPECT_EQ(budgets.usage("ns/m:80").bytes, 0u);
  EXPECT_EQ(gauge, 0u);

  // Moving hands the slot over once: the moved-from slot releases nothing.
  std::optional<MirrorBudgets::Slot> holder;
  {
    auto slot = budgets.try_acquire("ns/m:80", 100, kLimits);
    holder.emplace(std::move(slot));
  }
  EXPECT_EQ(budgets.usage("ns/m:80").copies, 1u);
  EXPECT_EQ(gauge, 1u);
  *holder = MirrorBudgets::Slot{};  // reset: released
  EXPECT_EQ(budgets.usage("ns/m:80").copies, 0u);
  EXPECT_EQ(budgets.usage("ns/m:80").bytes, 0u);
  EXPECT_EQ(gauge, 0u);

  // Move-assigning over a held slot releases the old one and keeps the new one.
  auto first = budgets.try_acquire("ns/m:80", 100, kLimits);
  auto second = budgets.try_acquire("ns/m:80", 200, kLimits);
  first = std::move(second);
  EXPECT_EQ(budgets.usage("ns/m:80").copies, 1u);
  EXPECT_EQ(budgets.usage("ns/m:80").bytes, 200u);
}

}  // namespace
}  // namespace mg::mirror
