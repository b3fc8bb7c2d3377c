#include "upstream/connection_pool.h"

#include <sys/socket.h>

namespace mg::upstream {
namespace {

// An idle connection must have nothing to read: EOF means the peer closed it, data means the peer
// sent something unsolicited; either way it cannot carry a new request.
bool still_idle(UpstreamConnection& c) {
  if (!c.socket.is_open() || !c.buffer.empty()) return false;
  char byte;
  ssize_t n = ::recv(c.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

std::unique_ptr<UpstreamConnection> ConnectionPool::take(std::string_view key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  while (!list.empty()) {
    std::unique_ptr<UpstreamConnection> c = std::move(list.back());
    list.pop_back();
    if (still_idle(*c)) {
      c->reused = true;
      return c;
    }
  }
  return nullptr;
}

void ConnectionPool::give_back(std::unique_ptr<UpstreamConnection> connection) {
  auto& list = stats::entry(idle_, connection->key);
  if (list.size() >= max_idle_) list.pop_front();  // drop the oldest
  connection->buffer.shrink_if_idle(16 * 1024);
  list.push_back(std::move(connection));
}

size_t ConnectionPool::idle_count() const {
  size_t n = 0;
  for (const auto& [key, list] : idle_) n += list.size();
  return n;
}

}  // namespace mg::upstream
