#include "mirror/mirror_budget.h"

namespace mg::mirror {

MirrorBudgets::Slot& MirrorBudgets::Slot::operator=(Slot&& o) noexcept {
  if (this != &o) {
    release();
    budgets_ = o.budgets_;
    backend_ = o.backend_;
    bytes_ = o.bytes_;
    o.budgets_ = nullptr;
  }
  return *this;
}

void MirrorBudgets::Slot::release() {
  if (!budgets_) return;
  --budgets_->worker_in_flight_;
  --backend_->copies;
  backend_->bytes -= bytes_;
  budgets_ = nullptr;
}

MirrorBudgets::Slot MirrorBudgets::try_acquire(std::string_view backend, uint64_t bytes,
                                               const BudgetLimits& limits) {
  if (worker_in_flight_ >= limits.worker_copies) return {};
  Usage& usage = stats::entry(backends_, backend);
  if (usage.copies >= limits.backend_copies) return {};
  if (bytes > limits.backend_bytes || usage.bytes > limits.backend_bytes - bytes) return {};
  ++worker_in_flight_;
  ++usage.copies;
  usage.bytes += bytes;
  return Slot(this, &usage, bytes);
}

MirrorBudgets::Usage MirrorBudgets::usage(std::string_view backend) const {
  auto it = backends_.find(backend);
  return it == backends_.end() ? Usage{} : it->second;
}

}  // namespace mg::mirror
