// SPDX-License-Identifier: GPL-2.0-or-later
// InFlightBytes: a count of bytes one reactor handed to another thread (a scan worker) and
// that thread has not finished with, for back-pressure. The other thread adds and subtracts;
// the reactor reads the count to pause an input, and instead of polling it registers a wake-up
// that runs on the reactor once the count has fallen to a bound. A count shared by many
// connections (all the scans of a reactor) wakes every connection that waits on it, so a
// connection paused by its neighbours' work resumes when their work drains.
//
// Lifetime: wake-ups are posted to the reactor with shared state, so a wake-up in flight
// never touches a destroyed InFlightBytes; a waiter's task follows core/lifetime.h (it tests
// its owner's handle). Forget() drops an owner's waiter at once.
#ifndef KENSA_CORE_IN_FLIGHT_BYTES_H_
#define KENSA_CORE_IN_FLIGHT_BYTES_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "core/reactor.h"

namespace kensa {

class InFlightBytes {
 public:
  // `reactor` runs the wake-ups; it must outlive every Sub() (the worker that subtracts is
  // stopped before its reactor goes).
  explicit InFlightBytes(Reactor* reactor);
  InFlightBytes(const InFlightBytes&) = delete;
  InFlightBytes& operator=(const InFlightBytes&) = delete;

  // Any thread.
  void Add(size_t n);
  // Any thread: may post a wake-up to the reactor.
  void Sub(size_t n);
  size_t value() const { return state_->value.load(std::memory_order_relaxed); }

  // Reactor thread. `wake` runs on the reactor, once, after the count was seen at or below
  // `bound` (never inside this call). `owner` keys the waiter: registering again replaces
  // the owner's earlier wake-up, so a connection waits at most once per count.
  void WakeWhenAtMost(uint64_t owner, size_t bound, Task wake);
  // Reactor thread: the owner's wake-up, if any, will not run.
  void Forget(uint64_t owner);
  size_t waiters() const { return state_->waiters.size(); }

 private:
  struct Waiter {
    size_t bound;
    Task wake;
  };
  struct State {
    Reactor* reactor;
    std::atomic<size_t> value{0};
    // One more than the highest bound a waiter has; 0 when none waits. Sub() posts a wake-up
    // when the count falls below it.
    std::atomic<size_t> wake_below{0};
    std::atomic<bool> wake_posted{false};
    absl::flat_hash_map<uint64_t, Waiter> waiters;  // reactor thread only
  };
  static void PostWake(const std::shared_ptr<State>& state);
  static void WakeDue(const std::shared_ptr<State>& state);
  static void Rearm(State& state);

  std::shared_ptr<State> state_;
};

}  // namespace kensa

#endif  // KENSA_CORE_IN_FLIGHT_BYTES_H_
