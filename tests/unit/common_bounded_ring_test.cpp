#include "common/bounded_ring.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mg {
namespace {

struct Entry {
  int n = 0;
  std::string text;
};

std::vector<int> numbers(const BoundedRing<Entry>& ring) {
  std::vector<int> out;
  for (const Entry& e : ring.snapshot()) out.push_back(e.n);
  return out;
}

TEST(BoundedRing, KeepsTheNewestRecordsOldestFirst) {
  BoundedRing<Entry> ring(3);
  EXPECT_TRUE(ring.snapshot().empty());
  for (int i = 1; i <= 2; ++i) ring.record(Entry{i, "r"});
  EXPECT_EQ(numbers(ring), (std::vector<int>{1, 2}));
  for (int i = 3; i <= 7; ++i) ring.record(Entry{i, "r"});
  EXPECT_EQ(numbers(ring), (std::vector<int>{5, 6, 7}));
}

TEST(BoundedRing, RecordInPlaceOverwritesTheOldestSlotAndKeepsItsStringCapacity) {
  BoundedRing<Entry> ring(2);
  const std::string long_text(200, 'x');  // far past the small-string buffer
  auto fill = [&](int n) {
    return [&, n](Entry& e) {
      e.n = n;
      e.text.assign(long_text);
    };
  };
  ring.record_in_place(fill(1));
  ring.record_in_place(fill(2));
  EXPECT_EQ(numbers(ring), (std::vector<int>{1, 2}));

  // The third record lands in the first one's slot: the fill sees the old record and reuses its buffer.
  const char* before = nullptr;
  ring.record_in_place([&](Entry& e) {
    EXPECT_EQ(e.n, 1);
    before = e.text.data();
    e.n = 3;
    e.text.assign(long_text);
    EXPECT_EQ(e.text.data(), before);
  });
  EXPECT_EQ(numbers(ring), (std::vector<int>{2, 3}));
  ring.record_in_place(fill(4));
  ring.record(Entry{5, "short"});
  EXPECT_EQ(numbers(ring), (std::vector<int>{4, 5}));
  EXPECT_EQ(ring.snapshot().back().text, "short");
}

TEST(BoundedRing, ZeroCapacityRecordsNothing) {
  BoundedRing<Entry> ring(0);
  ring.record(Entry{1, "a"});
  bool called = false;
  ring.record_in_place([&](Entry&) { called = true; });
  EXPECT_FALSE(called);
  EXPECT_TRUE(ring.snapshot().empty());
}

}  // namespace
}  // namespace mg
