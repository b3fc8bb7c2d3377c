#pragma once
// Session ticket keys (RFC 5077, and TLS 1.3's stateless tickets): random at start, kept only in memory,
// rotated every `rotation`; the previous key still decrypts, so a ticket lives between one and two
// rotations. One ring serves every worker and every TLS context of the process (tls_context.h), so a
// client resumes on whichever worker accepts it and across reloads; the session id context of each
// listener keeps one listener's tickets from resuming on another.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace mg::net {

inline constexpr std::chrono::seconds kTicketKeyRotation{3600};

class TicketKeys {
 public:
  struct Key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};   // AES-256-CBC
    std::array<unsigned char, 32> hmac{};  // HMAC-SHA256
  };
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit TicketKeys(std::chrono::seconds rotation = kTicketKeyRotation, Clock clock = {});

  // The key new tickets are encrypted with (rotating first when it is due).
  Key current();
  // The key a ticket named `name` was encrypted with: the current one (`*renew` false) or the previous
  // one (`*renew` true: the client should get a fresh ticket). nullopt: unknown or expired, full handshake.
  std::optional<Key> find(const unsigned char* name, bool* renew);

  std::chrono::seconds rotation() const { return rotation_; }
  // The ring every TLS listener uses unless given another.
  static std::shared_ptr<TicketKeys> process();

 private:
  void rotate_if_due();  // with mutex_ held

  std::chrono::seconds rotation_;
  Clock clock_;
  std::mutex mutex_;  // handshakes only, a few per connection: never the data path
  Key current_;
  std::optional<Key> previous_;
  std::chrono::steady_clock::time_point created_;
};

}  // namespace mg::net
