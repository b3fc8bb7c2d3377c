#include "mirror/copy_lanes.h"

#include <algorithm>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>

#include "mirror/mirror_context.h"
#include "upstream/exchange.h"

namespace mg::mirror {

using stats::MirrorFailure;

struct CopyLanes::Lane {
  Queue waiting;             // launched this turn, not written yet (and copies to send again)
  bool flush_posted = false;
  size_t batches = 0;        // in flight
  CopyClock::time_point backoff_until{};  // one copy per connection until then
  // How long the first copy of a batch waits for its answer after the write, smoothed: the lane's
  // "is this mirror fast" (a pipelined copy waits for every answer before its own).
  CopyClock::duration first_answer{};
  CopyClock::time_point last_used{};

  bool measured = false;
  void note_first_answer(CopyClock::duration d) {
    first_answer = measured ? first_answer + (d - first_answer) / 8 : d;  // the first one tells a slow mirror
    measured = true;
  }
  size_t depth(size_t configured, CopyClock::time_point now) const {
    return now < backoff_until || first_answer >= kSlowAnswer ? 1 : std::max<size_t>(configured, 1);
  }
};

void CopyLanes::Queue::push_back(std::unique_ptr<CopyJob> job) {
  CopyJob* raw = job.get();
  if (tail) {
    tail->next = std::move(job);
  } else {
    head = std::move(job);
  }
  tail = raw;
  ++size;
}

std::unique_ptr<CopyJob> CopyLanes::Queue::pop_front() {
  std::unique_ptr<CopyJob> job = std::move(head);
  head = std::move(job->next);
  if (!head) tail = nullptr;
  --size;
  return job;
}

void CopyLanes::Queue::push_front(std::unique_ptr<CopyJob> job) {
  if (!tail) tail = job.get();
  job->next = std::move(head);
  head = std::move(job);
  ++size;
}

void CopyLanes::Queue::prepend(Queue&& front) {
  if (front.empty()) return;
  front.tail->next = std::move(head);
  if (!tail) tail = front.tail;
  head = std::move(front.head);
  size += front.size;
  front = Queue{};
}

namespace {

// What is left until the earliest deadline among the queue's copies, at least a millisecond.
std::chrono::milliseconds earliest_remaining(const CopyLanes::Queue& queue, CopyClock::time_point now) {
  CopyClock::time_point earliest = CopyClock::time_point::max();
  for (const CopyJob* job = queue.head.get(); job; job = job->next.get()) earliest = std::min(earliest, job->deadline());
  return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(earliest - now), std::chrono::milliseconds(1));
}

}  // namespace

CopyLanes::CopyLanes() = default;
CopyLanes::~CopyLanes() = default;

void CopyLanes::send(MirrorContext& mirror, std::unique_ptr<CopyJob> job) {
  if (job->protocol != route::UpstreamProtocol::kHttp1) {
    Queue one;
    one.push_back(std::move(job));
    asio::co_spawn(mirror.io, run_batch(mirror, nullptr, std::move(one)), asio::detached);
    return;
  }
  // Pooled apart by BackendTLSPolicy, as the connections are (Exchange::connect_tls_to).
  std::unique_ptr<Lane>* slot = nullptr;
  if (!job->tls) {
    slot = &stats::entry(lanes_, job->endpoint->address);
  } else {
    slot = &stats::entry(lanes_, job->tls->pool_prefix() + job->endpoint->address);
  }
  if (!*slot) *slot = std::make_unique<Lane>();
  Lane& lane = **slot;
  lane.waiting.push_back(std::move(job));
  schedule_flush(mirror, lane);
}

void CopyLanes::schedule_flush(MirrorContext& mirror, Lane& lane) {
  if (lane.flush_posted) return;
  lane.flush_posted = true;
  // Posted behind the handlers already queued: every copy this turn launches for the lane goes with it.
  asio::post(mirror.io, [this, &mirror, &lane] { flush(mirror, lane); });
}

void CopyLanes::flush(MirrorContext& mirror, Lane& lane) {
  lane.flush_posted = false;
  const auto now = CopyClock::now();
  lane.last_used = now;
  const size_t depth = lane.depth(mirror.options.pipeline_depth, now);
  while (!lane.waiting.empty()) {
    Queue batch;
    while (!lane.waiting.empty() && batch.size < depth) {
      std::unique_ptr<CopyJob> job = lane.waiting.pop_front();
      if (job->retried && !batch.empty()) {  // a copy sent again goes on a connection of its own
        lane.waiting.push_front(std::move(job));
        break;
      }
      // Nothing behind a copy that is not idempotent (RFC 9112 9.3.2), nor behind a retry.
      const bool last = !job->idempotent() || job->retried;
      batch.push_back(std::move(job));
      if (last) break;
    }
    ++lane.batches;
    asio::co_spawn(mirror.io, run_batch(mirror, &lane, std::move(batch)), asio::detached);
  }
}

size_t CopyLanes::forget_idle(CopyClock::time_point now, std::chrono::seconds idle) {
  std::erase_if(lanes_, [&](const auto& entry) {
    const Lane& lane = *entry.second;
    return lane.waiting.empty() && !lane.flush_posted && lane.batches == 0 && now - lane.last_used >= idle &&
           now >= lane.backoff_until;
  });
  return lanes_.size();
}

// Sends the batch's copies in one write on one connection and reads their answers in order, each within
// its own deadline. `lane` is null for a copy to an h2c mirror (a batch of one, never pipelined).
asio::awaitable<void> CopyLanes::run_batch(MirrorContext& mirror, Lane* lane, Queue batch) {
  upstream::UpstreamContext upstream = mirror.upstream();
  upstream::Exchange exchange(upstream, batch.head->protocol);
  const route::Endpoint& endpoint = *batch.head->endpoint;
  auto now = CopyClock::now();
  const auto connected =
      co_await exchange.connect_to(endpoint, batch.head->remaining(now), /*fresh=*/false, batch.head->tls);
  if (connected != upstream::ConnectResultKind::kConnected) {
    mirror.ejections.connect_failed(endpoint.address, CopyClock::now());
    const CopyOutcome failed = CopyOutcome::failed_with(
        connected == upstream::ConnectResultKind::kTimedOut ? MirrorFailure::kTimeout : MirrorFailure::kConnect);
    while (!batch.empty()) finish_copy(mirror, *batch.pop_front(), failed);
    if (lane) --lane->batches;
    co_return;
  }
  if (!exchange.reused()) {
    mirror.ejections.connect_succeeded(endpoint.address);
    now = CopyClock::now();  // a new connection took time; a pooled one none
  }

  // One write for every copy of the batch, under the earliest deadline among them.
  std::vector<asio::const_buffer> gathered;
  std::array<asio::const_buffer, 3> single{};
  std::span<const asio::const_buffer> buffers;
  if (batch.size == 1) {
    single = batch.head->buffers();
    buffers = single;
  } else {
    gathered.reserve(batch.size * 3);
    for (CopyJob* job = batch.head.get(); job; job = job->next.get()) {
      const auto b = job->buffers();
      gathered.insert(gathered.end(), b.begin(), b.end());
      job->pipelined = job != batch.head.get();
    }
    buffers = gathered;
  }
  exchange.arm(earliest_remaining(batch, now));
  constexpr std::chrono::milliseconds kKeepDeadline{0};
  const bool written = co_await exchange.write(buffers, kKeepDeadline);
  const auto written_at = CopyClock::now();
  bool answered_all = written;
  bool answered_any = false;
  if (!written) {
    const CopyOutcome failed =
        CopyOutcome::failed_with(exchange.fired() ? MirrorFailure::kTimeout : MirrorFailure::kReset);
    end_batch_early(mirror, lane, batch, failed, false,
                    !exchange.fired() && exchange.lost_reuse_race(true) ? Unprocessed::kStalePooledConnection
                                                                        : Unprocessed::kMaybe);
  }
  while (written && !batch.empty()) {
    CopyJob& job = *batch.head;
    // The wait ends at the earliest deadline of the copies still unanswered (the write's, at first).
    if (answered_any) exchange.arm(earliest_remaining(batch, CopyClock::now()));
    const CopyOutcome outcome = co_await read_copy_answer(mirror, exchange, job);
    if (!outcome.completed) {
      answered_all = false;
      end_batch_early(mirror, lane, batch, outcome, answered_any,
                      !answered_any && exchange.lost_reuse_race(false) ? Unprocessed::kStalePooledConnection
                                                                       : Unprocessed::kMaybe);
      break;
    }
    if (lane && !answered_any) lane->note_first_answer(outcome.head_at - written_at);
    answered_any = true;
    // A server that answers "Connection: close" processes nothing behind that answer (RFC 9112 9.6).
    const bool closing = !exchange.head().keep_alive;
    finish_copy(mirror, *batch.pop_front(), outcome);
    if (closing && !batch.empty()) {
      answered_all = false;
      end_batch_early(mirror, lane, batch, CopyOutcome::failed_with(MirrorFailure::kReset), true,
                      Unprocessed::kAfterConnectionClose);
    }
  }
  exchange.disarm();
  exchange.finish(answered_all);
  if (lane) {
    --lane->batches;
    if (!lane->waiting.empty()) schedule_flush(mirror, *lane);
  }
}

void CopyLanes::end_batch_early(MirrorContext& mirror, Lane* lane, Queue& rest, const CopyOutcome& outcome,
                                bool answered_any, Unprocessed unprocessed) {
  // A pooled connection the backend had closed before it took it: nothing reached the backend, and the
  // copies go again as they were (the pool's race, as Exchange::lost_reuse_race says; a new connection
  // cannot lose it, so this ends).
  if (lane && unprocessed == Unprocessed::kStalePooledConnection) {
    lane->waiting.prepend(std::move(rest));
    return;
  }
  const bool never_processed = unprocessed == Unprocessed::kAfterConnectionClose;
  // The backend ended the connection (it did not time out here, nor answer garbage): the copies it may not
  // have processed can go again, once.
  const bool closed_by_backend = outcome.failure == MirrorFailure::kReset;
  const bool pipelined = rest.size > 1 || answered_any;
  stats::MirrorCounters& first_counters = *rest.head->counters;
  Queue again;
  bool first = true;
  while (!rest.empty()) {
    std::unique_ptr<CopyJob> job = rest.pop_front();
    // The first unanswered copy, when nothing on the connection was answered, fails as a copy on a
    // connection of its own would; any other is a victim of the pipeline.
    const bool victim = !first || answered_any;
    const bool may_go_again =
        lane && !job->retried && (never_processed || (closed_by_backend && victim && job->idempotent()));
    if (may_go_again) {
      job->retried = true;
      ++job->counters->retried;
      again.push_back(std::move(job));
    } else {
      finish_copy(mirror, *job, outcome);  // the reason that ended the connection ended this copy too
    }
    first = false;
  }
  if (!lane) return;
  if (closed_by_backend && pipelined) {
    // This backend closes pipelined connections: one copy per connection for a while.
    lane->backoff_until = CopyClock::now() + kBackoff;
    ++first_counters.pipelining_backoffs;
  }
  lane->waiting.prepend(std::move(again));
}

}  // namespace mg::mirror
