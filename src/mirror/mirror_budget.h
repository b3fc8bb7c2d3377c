#pragma once
// Per-worker budgets of mirror copies in flight: a worker-wide cap (--mirror-max-in-flight) and, per
// mirror backend, a cap on copies and on their request bytes (MirrorPolicy maxInFlight /
// maxBytesInFlight, else --mirror-backend-max-in-flight / --mirror-backend-max-bytes). A full budget
// drops the copy (counted by the caller), never queues it, so one slow mirror backend cannot use up
// what the others need. Written by its worker thread only, no locks.

#include <cstdint>
#include <string_view>

#include "stats/worker_stats.h"

namespace mg::mirror {

struct BudgetLimits {
  uint64_t worker_copies = 0;   // copies in flight on this worker, all mirror backends together
  uint64_t backend_copies = 0;  // copies in flight to this mirror backend
  uint64_t backend_bytes = 0;   // request bytes (head and body) of those copies
};

class MirrorBudgets {
 public:
  struct Usage {
    uint64_t copies = 0;
    uint64_t bytes = 0;
  };

  // Held by a copy for its whole life; gives its share back when destroyed, however the copy ends
  // (answer, failure, timeout, or its coroutine destroyed at shutdown).
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& o) noexcept : budgets_(o.budgets_), backend_(o.backend_), bytes_(o.bytes_) {
      o.budgets_ = nullptr;
    }
    Slot& operator=(Slot&& o) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { release(); }
    explicit operator bool() const { return budgets_ != nullptr; }

   private:
    friend class MirrorBudgets;
    Slot(MirrorBudgets* budgets, Usage* backend, uint64_t bytes)
        : budgets_(budgets), backend_(backend), bytes_(bytes) {}
    void release();
    MirrorBudgets* budgets_ = nullptr;
    Usage* backend_ = nullptr;  // a node of backends_: its address is stable
    uint64_t bytes_ = 0;
  };

  // `worker_in_flight` is the worker's in-flight gauge (/metrics), kept equal to the copies held here.
  explicit MirrorBudgets(uint64_t& worker_in_flight) : worker_in_flight_(worker_in_flight) {}
  MirrorBudgets(const MirrorBudgets&) = delete;
  MirrorBudgets& operator=(const MirrorBudgets&) = delete;

  // A slot for a copy of `bytes` request bytes to `backend`, or an empty Slot when any budget would be
  // exceeded. A copy larger than the whole bytes budget never fits.
  Slot try_acquire(std::string_view backend, uint64_t bytes, const BudgetLimits& limits);

  Usage usage(std::string_view backend) const;
  uint64_t worker_copies() const { return worker_in_flight_; }

 private:
  uint64_t& worker_in_flight_;
  // Keyed by the MirrorTarget name ("namespace/service:port"). Entries are kept once created (one per
  // mirror backend ever configured, a few bytes each) so that slots can point at them.
  stats::StringMap<Usage> backends_;
};

}  // namespace mg::mirror
