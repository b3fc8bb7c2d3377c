#include "net/ticket_keys.h"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace mg::net {
namespace {

TicketKeys::Key random_key() {
  TicketKeys::Key k;
  if (RAND_bytes(k.name.data(), static_cast<int>(k.name.size())) != 1 ||
      RAND_bytes(k.aes.data(), static_cast<int>(k.aes.size())) != 1 ||
      RAND_bytes(k.hmac.data(), static_cast<int>(k.hmac.size())) != 1)
    throw std::runtime_error("no randomness for TLS session ticket keys");
  return k;
}

}  // namespace

TicketKeys::TicketKeys(std::chrono::seconds rotation, Clock clock)
    : rotation_(rotation), clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })),
      current_(random_key()), created_(clock_()) {}

void TicketKeys::rotate_if_due() {
  const auto now = clock_();
  if (now - created_ < rotation_) return;
  // After two rotations without a handshake the old current key is older than a ticket may be.
  previous_.reset();
  if (now - created_ < 2 * rotation_) previous_ = current_;
  current_ = random_key();
  created_ = now;
}

TicketKeys::Key TicketKeys::current() {
  std::lock_guard lock(mutex_);
  rotate_if_due();
  return current_;
}

std::optional<TicketKeys::Key> TicketKeys::find(const unsigned char* name, bool* renew) {
  std::lock_guard lock(mutex_);
  rotate_if_due();
  *renew = false;
  if (std::equal(current_.name.begin(), current_.name.end(), name)) return current_;
  if (previous_ && std::equal(previous_->name.begin(), previous_->name.end(), name)) {
    *renew = true;
    return previous_;
  }
  return std::nullopt;
}

std::shared_ptr<TicketKeys> TicketKeys::process() {
  static const std::shared_ptr<TicketKeys> ring = std::make_shared<TicketKeys>();
  return ring;
}

}  // namespace mg::net
