#include "upstream/connection_pool.h"

#include <sys/socket.h>

#include <cerrno>
#include <iterator>
#include <vector>

namespace mg::upstream {
namespace {

// Servers close idle keep-alive connections after seconds (Node 5 s, nginx 75 s), not milliseconds:
// a connection idle for less than this is reused without asking the kernel (a system call per request
// saved under load). The rare close that races a reuse anyway is retried by the caller on a new
// connection when the request can be replayed.
constexpr std::chrono::milliseconds kTrustedIdle{1000};

// An idle connection must have nothing to read: EOF means the peer closed it, data means the peer
// sent something unsolicited; either way it cannot carry a new request. Under TLS the bytes its layer
// already took from the socket (a close_notify behind the last response, say) count too.
bool peer_silent(UpstreamConnection& c) {
  if (c.stream.buffered() > 0) return false;
  char byte;
  ssize_t n = ::recv(c.stream.lowest_layer().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool still_idle(UpstreamConnection& c, std::chrono::steady_clock::time_point now) {
  if (!c.stream.is_open() || !c.buffer.empty()) return false;
  return now - c.idle_since < kTrustedIdle || peer_silent(c);
}

}  // namespace

std::unique_ptr<UpstreamConnection> ConnectionPool::take(std::string_view key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  const auto now = std::chrono::steady_clock::now();
  while (!list.empty()) {
    std::unique_ptr<UpstreamConnection> c = std::move(list.back());
    list.pop_back();
    if (still_idle(*c, now)) {
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
  connection->idle_since = std::chrono::steady_clock::now();
  list.push_back(std::move(connection));
}

size_t ConnectionPool::close_expired(std::chrono::steady_clock::time_point now, std::chrono::milliseconds max_idle) {
  size_t closed = 0;
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& list = it->second;
    const auto before = list.size();
    std::erase_if(list, [&](const std::unique_ptr<UpstreamConnection>& c) {
      return now - c->idle_since >= max_idle || !c->stream.is_open() || !c->buffer.empty() || !peer_silent(*c);
    });
    closed += before - list.size();
    it = list.empty() ? idle_.erase(it) : std::next(it);
  }
  return closed + h2c_.close_idle(now, max_idle);
}

size_t ConnectionPool::release_idle_buffers(std::chrono::steady_clock::time_point now) {
  size_t released = 0;
  for (auto& [key, list] : idle_)
    for (auto& c : list) {
      if (now - c->idle_since < kTrustedIdle || (c->buffer.capacity() == 0 && c->response_head.headers.capacity() == 0))
        continue;
      c->buffer.release();
      std::vector<http::Header>().swap(c->response_head.headers);
      ++released;
    }
  return released;
}

size_t ConnectionPool::idle_count() const {
  size_t n = 0;
  for (const auto& [key, list] : idle_) n += list.size();
  return n;
}

}  // namespace mg::upstream
