#pragma once
// How mirror copies go out. Each worker keeps a lane per HTTP/1.1 mirror endpoint (and BackendTLSPolicy):
// the copies launched for it in one event-loop turn wait in the lane until the turn ends, then go out
// pipelined (RFC 9112 9.3.2): up to --mirror-pipeline-depth of them in one write on one connection (an
// idle pooled one, else a new one), their answers read in order and discarded. A copy's bytes, deadline,
// budget slot, trace entry and comparison stay its own. Nothing is pipelined behind a copy whose method is
// not idempotent.
//
// When a connection ends before every copy on it is answered, none is lost silently:
// - the copy being read fails with its reason (timeout, reset, protocol), and so do the copies behind it,
//   whose answers would have come after its own (each counted, logged and traced);
// - except when the backend closed the connection (or answered `Connection: close`): then the copies
//   behind an answered one, or behind the first, that it may not have processed go again once, one per
//   connection, if their method allows it, and the lane backs off to one copy per connection for
//   kBackoff (counted).
// A lane whose first answers take kSlowAnswer or more sends one copy per connection: a pipelined copy
// waits for every answer before its own. Copies to an h2c mirror are streams of a shared connection
// already (h2_stream_wire.h): each goes at once, on its own.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <asio/awaitable.hpp>

#include "mirror/copy_job.h"
#include "stats/worker_stats.h"

namespace mg::mirror {

struct MirrorContext;

class CopyLanes {
 public:
  static constexpr std::chrono::seconds kBackoff{30};
  static constexpr std::chrono::milliseconds kSlowAnswer{10};

  CopyLanes();
  ~CopyLanes();
  CopyLanes(const CopyLanes&) = delete;
  CopyLanes& operator=(const CopyLanes&) = delete;

  // Sends the copy: queued in its endpoint's lane until this turn ends (HTTP/1.1), or at once (h2c).
  void send(MirrorContext& mirror, std::unique_ptr<CopyJob> job);
  // Forgets the lanes that have nothing queued or in flight and were last used `idle` ago or more (mirror
  // endpoints come and go); returns how many are left.
  size_t forget_idle(CopyClock::time_point now, std::chrono::seconds idle);

  // A FIFO of jobs linked through CopyJob::next (no allocation beyond the jobs themselves).
  struct Queue {
    std::unique_ptr<CopyJob> head;
    CopyJob* tail = nullptr;
    size_t size = 0;
    void push_back(std::unique_ptr<CopyJob> job);
    std::unique_ptr<CopyJob> pop_front();
    void push_front(std::unique_ptr<CopyJob> job);
    void prepend(Queue&& front);  // `front`'s jobs go before this queue's, in their order
    bool empty() const { return size == 0; }
  };
  struct Lane;

 private:
  void flush(MirrorContext& mirror, Lane& lane);
  void schedule_flush(MirrorContext& mirror, Lane& lane);
  asio::awaitable<void> run_batch(MirrorContext& mirror, Lane* lane, Queue batch);
  // Whether the backend can have processed the unanswered copies of a connection.
  enum class Unprocessed : uint8_t {
    kMaybe,
    kStalePooledConnection,  // a pooled connection closed before it was taken: nothing reached the backend
    kAfterConnectionClose,   // behind an answer saying "Connection: close" (RFC 9112 9.6)
  };
  // The connection of a batch ended before `rest` (its first copy the one being read) was answered: each
  // goes again or is counted as failed, as the header comment says.
  void end_batch_early(MirrorContext& mirror, Lane* lane, Queue& rest, const CopyOutcome& outcome,
                       bool answered_any, Unprocessed unprocessed);

  stats::StringMap<std::unique_ptr<Lane>> lanes_;  // by pool key; unique_ptr: batches hold a lane's address
};

}  // namespace mg::mirror
