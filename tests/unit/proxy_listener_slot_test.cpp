// A connection finds its listener by where it was accepted, in whichever table is current: Gateways
// come and go, and positions in the table move with them.

#include "proxy/listener_slot.h"

#include <gtest/gtest.h>

namespace mg::proxy {
namespace {

route::RouteTable table(uint64_t generation, std::vector<std::pair<std::string, uint16_t>> listeners) {
  route::RouteTable t;
  t.generation = generation;
  for (const auto& [address, port] : listeners) {
    route::Listener l;
    l.gateway = "default/" + address;
    l.address = address;
    l.port = port;
    t.listeners.push_back(std::move(l));
  }
  return t;
}

TEST(ListenerSlot, FollowsItsListenerWhenPositionsChangeAndLosesItWhenItGoes) {
  ListenerSlot slot(std::make_shared<const ListenerEndpoint>(ListenerEndpoint{"10.0.0.2", 8080}));
  const auto first = table(1, {{"10.0.0.1", 8080}, {"10.0.0.2", 8080}});
  ASSERT_EQ(slot.resolve(first), &first.listeners[1]);
  // A Gateway before it went away: the same listener is now first.
  const auto second = table(2, {{"10.0.0.2", 8080}, {"10.0.0.3", 8080}});
  EXPECT_EQ(slot.resolve(second), &second.listeners[0]);
  // Same address, another port: not ours.
  const auto third = table(3, {{"10.0.0.2", 8081}});
  EXPECT_EQ(slot.resolve(third), nullptr);
  EXPECT_EQ(slot.resolve(second), &second.listeners[0]);  // back to a table that has it
}

TEST(ListenerSlot, TablesNotMadeByTheTranslatorAreLookedUpEachTime) {
  ListenerSlot slot(std::make_shared<const ListenerEndpoint>(ListenerEndpoint{"0.0.0.0", 80}));
  const auto a = table(0, {{"0.0.0.0", 80}});
  const auto b = table(0, {{"0.0.0.0", 81}});
  EXPECT_EQ(slot.resolve(a), &a.listeners[0]);
  EXPECT_EQ(slot.resolve(b), nullptr);  // generation 0 is no proof of sameness
}

}  // namespace
}  // namespace mg::proxy
