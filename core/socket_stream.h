// SPDX-License-Identifier: GPL-2.0-or-later
// SocketStream: a connected socket on one reactor: multishot receive into the shared buffer
// ring, an output buffer with one send in flight (back-pressure is queued_bytes()), pausable
// input, and a close that never leaves an io_uring request pointing at a closed fd.
// Lifetime: in-flight operations hold a shared_ptr, so the stream outlives its owner's
// reference until the kernel is done with it; the handler is never called after Close().
#ifndef KENSA_CORE_SOCKET_STREAM_H_
#define KENSA_CORE_SOCKET_STREAM_H_

#include <memory>
#include <string>
#include <string_view>

#include "core/reactor.h"

namespace kensa {

class SocketStream : public std::enable_shared_from_this<SocketStream> {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void OnReceive(std::string_view bytes) = 0;
    // The peer closed (error 0) or the socket failed (-errno). Not called after Close().
    virtual void OnStreamClosed(int error) = 0;
    // All queued output has been written to the socket.
    virtual void OnSendDrained() {}
  };

  static std::shared_ptr<SocketStream> Create(Reactor* reactor, int fd);
  ~SocketStream();

  void Start(Handler* handler);
  // Hands the stream to the next handler: `unread` (bytes the current handler received but
  // does not own) and whatever arrives until the next Start() are delivered to that handler
  // first, in order. The current handler gets no further calls. (A PROXY protocol header is
  // read this way before the session that follows it starts.)
  void Handover(std::string unread);
  void Send(std::string_view data);
  size_t queued_bytes() const {
    return output_dropped_ ? 0 : out_.size() - out_offset_ + pending_.size();
  }
  void PauseReceive();
  void ResumeReceive();
  // Detaches the handler at once. With flush, queued output is sent first (bounded by
  // `linger`), then the socket is shut down and closed.
  void Close(bool flush, absl::Duration linger = absl::Seconds(10));
  bool closed() const { return closing_; }
  int fd() const { return fd_; }

 private:
  SocketStream(Reactor* reactor, int fd) : reactor_(reactor), fd_(fd) {}
  void ArmRecv();
  void DeliverUnread();
  void KickSend();
  void FinishClose();
  void Fail(int error);
  // Discards queued output (a close without flush, a linger that ran out, a failed send).
  void DropOutput();

  Reactor* reactor_;
  int fd_;
  Handler* handler_ = nullptr;
  uint64_t recv_id_ = 0;
  bool recv_active_ = false;
  bool handed_over_ = false;  // between Handover() and the next handler's first delivery
  std::string unread_;
  bool paused_ = false;
  bool send_in_flight_ = false;
  std::string out_;      // being sent; stable while a send is in flight
  size_t out_offset_ = 0;
  std::string pending_;  // queued behind out_
  bool output_dropped_ = false;  // out_ is to be discarded once the send in flight completes
  bool closing_ = false;
  bool fd_closed_ = false;
  Reactor::TimerId linger_timer_ = 0;
};

}  // namespace kensa

#endif  // KENSA_CORE_SOCKET_STREAM_H_
