// SPDX-License-Identifier: GPL-2.0-or-later
// Layout, fixed width so that byte order is time order ('0' < 'A' < 'a' in ASCII):
//   9 chars  microseconds since the epoch (62^9 us is ~427 years)
//   2 chars  shard (mod 62^2)
//   3 chars  per-process counter (mod 62^3), started at a random value
// The time part is forced strictly increasing within the process, so ids never repeat even
// if the wall clock steps back; the random counter start makes a repeat after a restart with
// a stepped-back clock unlikely as well.
#include "spool/queue_id.h"

#include <sys/random.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace kensa::spool {
namespace {

constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr int kTimeChars = 9;
constexpr int kShardChars = 2;
constexpr int kCounterChars = 3;
constexpr size_t kIdLength = kTimeChars + kShardChars + kCounterChars;

void PutBase62(std::string* out, uint64_t v, int width) {
  char buf[16];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = kDigits[v % 62];
    v /= 62;
  }
  out->append(buf, static_cast<size_t>(width));
}

uint64_t InitialCounter() {
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed)) {
    seed = static_cast<uint64_t>(getpid()) * 2654435761u;
  }
  return seed;
}

std::atomic<uint64_t> g_last_micros{0};
std::atomic<uint64_t> g_counter{InitialCounter()};

uint64_t NextMicros() {
  uint64_t now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  uint64_t last = g_last_micros.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = now > last ? now : last + 1;
  } while (!g_last_micros.compare_exchange_weak(last, next, std::memory_order_relaxed));
  return next;
}

}  // namespace

std::string NewQueueId(int shard) {
  std::string id;
  id.reserve(kIdLength);
  PutBase62(&id, NextMicros(), kTimeChars);
  PutBase62(&id, static_cast<uint64_t>(shard < 0 ? -static_cast<int64_t>(shard) : shard), kShardChars);
  PutBase62(&id, g_counter.fetch_add(1, std::memory_order_relaxed), kCounterChars);
  return id;
}

bool IsQueueIdShaped(std::string_view name) {
  if (name.size() != kIdLength) return false;
  for (char c : name) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (!ok) return false;
  }
  return true;
}

}  // namespace kensa::spool
