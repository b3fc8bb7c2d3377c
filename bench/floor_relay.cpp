// The transport floor of the load benchmark: the cheapest program that can stand where the proxy stands.
// It pairs each accepted client connection with one upstream connection (round robin over the given
// upstreams) and copies bytes both ways: one read and one write per message per direction, level-triggered
// epoll so it never makes a read that finds nothing, no parsing, no timers, no allocation per request.
// Any HTTP/1.1 proxy does at least this work for a keep-alive request, so its CPU per request is the part
// of a proxy's cost that belongs to the kernel's loopback TCP and not to the proxy (bench/README.md).
// With mirrors (after "--"), each client connection also gets a connection to a mirror (round robin), every
// client message is written there too, and what the mirror answers is read and dropped: the floor of
// "proxy plus one copy of every request".
// Not a proxy: it assumes small messages (a short write blocks until the peer drains it) and is only built
// and run by bench/load.sh (configurations "floor-relay" and "floor-relay-mirror").
//
//   floor-relay LISTEN_IP:PORT UPSTREAM_IP:PORT... [-- MIRROR_IP:PORT...]

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

sockaddr_in parse_address(const char* text) {
  std::string s(text);
  auto colon = s.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "floor-relay: %s is not IP:PORT\n", text);
    std::exit(2);
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(s.c_str() + colon + 1)));
  if (inet_pton(AF_INET, s.substr(0, colon).c_str(), &a.sin_addr) != 1) {
    std::fprintf(stderr, "floor-relay: bad IPv4 address in %s\n", text);
    std::exit(2);
  }
  return a;
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Writes all of [p, p+n): a short write waits for the peer with poll (rare with small messages).
bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EAGAIN) {
      pollfd pfd{fd, POLLOUT, 0};
      poll(&pfd, 1, 1000);
      continue;
    }
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: floor-relay LISTEN_IP:PORT UPSTREAM_IP:PORT...\n");
    return 2;
  }
  sockaddr_in listen_at = parse_address(argv[1]);
  std::vector<sockaddr_in> upstreams, mirrors;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      for (++i; i < argc; ++i) mirrors.push_back(parse_address(argv[i]));
      break;
    }
    upstreams.push_back(parse_address(argv[i]));
  }

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listener, reinterpret_cast<sockaddr*>(&listen_at), sizeof listen_at) != 0 ||
      listen(listener, 4096) != 0) {
    std::perror("floor-relay: listen");
    return 1;
  }
  int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);

  // fd -> the other end of its pair; a mirror connection's peer is kDiscard, a client's copy goes to mirror[fd].
  constexpr int kDiscard = -2;
  std::vector<int> peer(1 << 16, -1), mirror(1 << 16, -1);
  size_t next_upstream = 0, next_mirror = 0;
  static char buffer[64 * 1024];
  epoll_event events[256];
  auto close_one = [&](int fd) {
    if (fd < 0) return;
    peer[static_cast<size_t>(fd)] = -1;
    close(fd);
  };
  auto close_pair = [&](int fd) {
    int other = peer[static_cast<size_t>(fd)];
    if (other == kDiscard) return close_one(fd);  // a mirror that went away: the pair carries on
    int client = mirror[static_cast<size_t>(fd)] >= 0 ? fd : other;
    if (client >= 0) {
      close_one(mirror[static_cast<size_t>(client)]);
      mirror[static_cast<size_t>(client)] = -1;
    }
    close_one(fd);
    close_one(other);
  };
  auto connect_to = [](const sockaddr_in& to) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s >= 0 && connect(s, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
      close(s);
      return -1;
    }
    if (s >= 0) {
      fcntl(s, F_SETFL, O_NONBLOCK);
      set_nodelay(s);
    }
    return s;
  };
  for (;;) {
    int ready = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < ready; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        for (;;) {
          int client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
          if (client < 0) break;
          int upstream = connect_to(upstreams[next_upstream++ % upstreams.size()]);
          int copy_to = mirrors.empty() ? -1 : connect_to(mirrors[next_mirror++ % mirrors.size()]);
          if (upstream < 0 || (!mirrors.empty() && copy_to < 0) ||
              static_cast<size_t>(std::max({client, upstream, copy_to})) >= peer.size()) {
            for (int s : {client, upstream, copy_to})
              if (s >= 0) close(s);
            continue;
          }
          set_nodelay(client);
          peer[static_cast<size_t>(client)] = upstream;
          peer[static_cast<size_t>(upstream)] = client;
          mirror[static_cast<size_t>(client)] = copy_to;
          if (copy_to >= 0) peer[static_cast<size_t>(copy_to)] = kDiscard;
          for (int s : {client, upstream, copy_to}) {
            if (s < 0) continue;
            epoll_event e{};
            e.events = EPOLLIN;
            e.data.fd = s;
            epoll_ctl(ep, EPOLL_CTL_ADD, s, &e);
          }
        }
        continue;
      }
      const int to = peer[static_cast<size_t>(fd)];
      if (to == -1) continue;  // closed earlier in this batch
      ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) {
        if (n < 0 && errno == EAGAIN) continue;
        close_pair(fd);
        continue;
      }
      if (to == kDiscard) continue;  // the mirror's answer
      if (!write_all(to, buffer, static_cast<size_t>(n))) {
        close_pair(fd);
        continue;
      }
      const int copy_to = mirror[static_cast<size_t>(fd)];
      if (copy_to >= 0 && !write_all(copy_to, buffer, static_cast<size_t>(n))) {
        close_pair(copy_to);
        mirror[static_cast<size_t>(fd)] = -1;
      }
    }
  }
}
