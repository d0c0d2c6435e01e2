// SPDX-License-Identifier: GPL-2.0-or-later
// ControlService: kensad's side of the control socket (control/control_backend.h). It runs on
// the control thread; what a reactor owns (connections, its queue) it asks for by message:
// a task posted to each shard's reactor answers with a copy, and the control thread waits for
// every answer up to kReactorAnswerTimeout. Files no reactor owns (queue files' envelopes,
// the quarantine, the log, the configuration file) it reads itself.
#ifndef KENSA_APPLIANCE_CONTROL_SERVICE_H_
#define KENSA_APPLIANCE_CONTROL_SERVICE_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "appliance/config_reload.h"
#include "appliance/runtime.h"
#include "appliance/shard.h"
#include "control/control_backend.h"
#include "core/reactor_pool.h"

namespace kensa {

// A reactor that does not answer in this time (a stalled loop) fails the command, not the
// control thread.
inline constexpr absl::Duration kReactorAnswerTimeout = absl::Seconds(10);
// `show queue` reads the envelope of at most this many queue files; the rest are counted.
inline constexpr size_t kMaxListedMessages = 1000;
// `log tail N`: at most this many lines, from at most the last kLogTailMaxBytes of the file.
inline constexpr size_t kMaxLogTailLines = 1000;
inline constexpr size_t kLogTailMaxBytes = 1 << 20;
// `quarantine show`: at most this many header lines of the message.
inline constexpr size_t kMaxShownHeaderLines = 100;

struct ControlContext {
  Runtime* runtime = nullptr;
  ConfigReloader* config_reloader = nullptr;
  // Builds [scan] signature_dir again off this thread (no feed configured), as SIGHUP does.
  std::function<void()> reload_signature_dir;
  ReactorPool* pool = nullptr;
  // Indexed like the pool's reactors; each Shard is touched only on its reactor.
  std::vector<std::unique_ptr<Shard>>* shards = nullptr;
  std::string config_path;  // empty: the embedded default
  std::string version;
  absl::Time started;
};

class ControlService : public control::ControlBackend {
 public:
  explicit ControlService(ControlContext context) : ctx_(std::move(context)) {}
  control::CommandResult Run(const control::ParsedCommand& command,
                             const std::vector<std::string>& body,
                             const control::PeerIdentity& who) override;

 private:
  using Result = control::CommandResult;
  Result ShowStatus();
  Result ShowConnections();
  Result ServiceDrain();
  Result ServiceResume();
  Result ShowReactors();
  Result ShowCounters();
  Result ShowSignatures();
  // control_signature_commands.cc
  Result SignaturesHistory();
  Result SignaturesUpdate();
  Result SignaturesRollback();
  Result ShowConfig();
  Result CheckConfig();
  Result ReloadConfig();
  Result LogTail(const std::vector<std::string>& args);
  Result Subscriber(const control::ParsedCommand& command, const std::vector<std::string>& body);
  // control_queue_commands.cc
  Result ShowQueue();
  Result FlushQueue();
  Result HoldOrRelease(const std::string& id, bool hold);
  Result DeleteQueued(const std::string& id);
  Result ShowMessage(const std::string& id);
  Result ShowQuarantine();
  Result ShowQuarantined(const std::string& id);
  Result ReleaseQuarantined(const std::string& id);
  Result DeleteQuarantined(const std::string& id);

  // Runs ask(shard, reply) on every shard's reactor; each calls reply once (from any thread).
  // The answers in reactor order, or Unavailable naming a reactor that did not answer.
  template <typename T>
  absl::StatusOr<std::vector<T>> AskEachShard(
      std::function<void(Shard&, std::function<void(T)>)> ask);

  int reactors() const { return ctx_.pool->size(); }

  ControlContext ctx_;
};

// "key=value" fields for one line of a listing; a value with a blank, '"' or '=' or an empty
// one is quoted (Go's strconv.Quote style), so a script can split them.
std::string Field(std::string_view key, std::string_view value);

template <typename T>
absl::StatusOr<std::vector<T>> ControlService::AskEachShard(
    std::function<void(Shard&, std::function<void(T)>)> ask) {
  // Shared with the reactors: an answer after the timeout lands here, not on a dead stack.
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::optional<T>> answers;
    int left = 0;
  };
  auto state = std::make_shared<State>();
  const int n = reactors();
  state->answers.resize(static_cast<size_t>(n));
  state->left = n;
  for (int i = 0; i < n; ++i) {
    Shard* shard = (*ctx_.shards)[static_cast<size_t>(i)].get();
    ctx_.pool->reactor(i).Post([state, i, shard, ask] {
      ask(*shard, [state, i](T v) {
        std::lock_guard<std::mutex> lock(state->mu);
        std::optional<T>& slot = state->answers[static_cast<size_t>(i)];
        if (slot.has_value()) return;
        slot = std::move(v);
        --state->left;
        state->cv.notify_all();
      });
    });
  }
  std::unique_lock<std::mutex> lock(state->mu);
  if (!state->cv.wait_for(lock, absl::ToChronoNanoseconds(kReactorAnswerTimeout),
                          [&] { return state->left == 0; })) {
    for (int i = 0; i < n; ++i) {
      if (!state->answers[static_cast<size_t>(i)]) {
        return absl::UnavailableError(absl::StrCat("reactor ", i, " did not answer within ",
                                                   absl::FormatDuration(kReactorAnswerTimeout)));
      }
    }
  }
  std::vector<T> out;
  for (std::optional<T>& a : state->answers) out.push_back(std::move(*a));
  return out;
}

}  // namespace kensa

#endif  // KENSA_APPLIANCE_CONTROL_SERVICE_H_
