#pragma once
// The last N records of a worker, oldest overwritten first. Written by its worker only; other threads
// read it through a copy the worker takes for them (no locks).

#include <cstddef>
#include <utility>
#include <vector>

namespace mg {

template <typename T>
class BoundedRing {
 public:
  explicit BoundedRing(size_t capacity) : capacity_(capacity) {}

  void record(T item) {
    record_in_place([&](T& slot) { slot = std::move(item); });
  }

  // Records by overwriting the oldest slot in place (`fill(T&)` must set every field): the slot's strings
  // keep their capacity, so a full ring of string records allocates nothing per record.
  template <typename Fill>
  void record_in_place(Fill&& fill) {
    if (capacity_ == 0) return;
    if (items_.size() < capacity_) {
      fill(items_.emplace_back());
      return;
    }
    fill(items_[next_]);
    next_ = (next_ + 1) % capacity_;
  }
  // Oldest first.
  std::vector<T> snapshot() const {
    std::vector<T> out;
    out.reserve(items_.size());
    for (size_t i = 0; i < items_.size(); ++i) out.push_back(items_[(next_ + i) % items_.size()]);
    return out;
  }

 private:
  size_t capacity_;
  size_t next_ = 0;  // where the next record goes once the ring is full
  std::vector<T> items_;
};

}  // namespace mg
