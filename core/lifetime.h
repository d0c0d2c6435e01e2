// SPDX-License-Identifier: GPL-2.0-or-later
// Lifetime: how asynchronous work knows that the object which started it is gone.
//
// THE RULE. A callback that can run after its owner closed or was destroyed (an io_uring
// completion, a timer, a task a worker thread posts back, a spool commit, a scan verdict, a
// back-pressure wake-up) never reaches its owner through a raw `this` alone. It captures the
// owner's Lifetime::Handle next to `this` and tests `expired()` first, on the owner's
// reactor thread, before it touches the owner:
//
//     worker.Submit([alive = lifetime_.handle(), reactor, this] {
//       auto result = Work();                  // worker thread: never touches `this`
//       reactor->Post([alive, this, result] {  // back on the owner's reactor
//         if (alive.expired()) return;         // the owner is gone: drop the result
//         OnResult(result);
//       });
//     });
//
// The only other way is to make the work unable to outlive the owner: the owner cancels it in
// its destructor (Reactor::CancelTimer guarantees the task will not run afterwards). Anything
// else that needs the result after the owner died (a committed message is still delivered)
// captures what it needs by value, not through `this`.
//
// Why it is safe: an owner lives and dies on one reactor thread, and the callback tests the
// handle on that same thread, so nothing can destroy the owner between the test and the use.
// A handle tested on another thread proves nothing. This is Seastar's weak_ptr/gate model
// reduced to what a single-threaded owner needs; a handle costs one weak reference.
#ifndef KENSA_CORE_LIFETIME_H_
#define KENSA_CORE_LIFETIME_H_

#include <memory>

namespace kensa {

class Lifetime {
 public:
  // A weak reference to the owner's lifetime: copyable, cheap, and safe to keep after the
  // owner is gone (that is what it is for).
  class Handle {
   public:
    Handle() = default;  // an empty handle is expired
    bool expired() const { return token_.expired(); }

   private:
    friend class Lifetime;
    explicit Handle(std::weak_ptr<const bool> token) : token_(std::move(token)) {}
    std::weak_ptr<const bool> token_;
  };

  Lifetime() = default;
  // Not copyable: a copy of the owner must not be mistaken for it by older callbacks.
  Lifetime(const Lifetime&) = delete;
  Lifetime& operator=(const Lifetime&) = delete;

  Handle handle() const { return Handle(token_); }
  // Expires every handle now, for an owner that is shut down before it is destroyed.
  void End() { token_.reset(); }

 private:
  std::shared_ptr<const bool> token_ = std::make_shared<const bool>(true);
};

}  // namespace kensa

#endif  // KENSA_CORE_LIFETIME_H_
