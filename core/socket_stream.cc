// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/socket_stream.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

namespace kensa {

std::shared_ptr<SocketStream> SocketStream::Create(Reactor* reactor, int fd) {
  return std::shared_ptr<SocketStream>(new SocketStream(reactor, fd));
}

SocketStream::~SocketStream() {
  if (!fd_closed_ && fd_ >= 0) close(fd_);
}

void SocketStream::Start(Handler* handler) {
  handler_ = handler;
  if (handed_over_) {
    // After the caller's Start() returns, so its handler is fully set up.
    reactor_->Defer([self = shared_from_this()] { self->DeliverUnread(); });
  }
  ArmRecv();
}

void SocketStream::Handover(std::string unread) {
  handler_ = nullptr;
  handed_over_ = true;
  unread_ = std::move(unread);
}

void SocketStream::DeliverUnread() {
  if (!handed_over_ || handler_ == nullptr) return;
  handed_over_ = false;
  std::string bytes;
  bytes.swap(unread_);
  if (!bytes.empty() && !closing_) handler_->OnReceive(bytes);
}

void SocketStream::ArmRecv() {
  if (recv_active_ || closing_ || paused_) return;
  recv_active_ = true;
  recv_id_ = reactor_->Recv(fd_, [self = shared_from_this()](int res, std::string_view data) {
    if (res > 0) {
      if (self->handed_over_) {
        self->unread_.append(data);  // kept in order for the next handler
      } else if (self->handler_ != nullptr) {
        self->handler_->OnReceive(data);
      }
      return;
    }
    // The multishot request ended (EOF, error, or our cancel).
    self->recv_active_ = false;
    // Bytes that came before an EOF reach the next handler before the EOF does.
    self->DeliverUnread();
    if (self->closing_) {
      self->FinishClose();
    } else if (res == -ECANCELED) {
      if (!self->paused_) self->ArmRecv();  // resumed before the cancel landed
    } else {
      self->Fail(res);
    }
  });
}

void SocketStream::PauseReceive() {
  if (paused_) return;
  paused_ = true;
  if (recv_active_) reactor_->Cancel(recv_id_);
}

void SocketStream::ResumeReceive() {
  if (!paused_) return;
  paused_ = false;
  ArmRecv();
}

void SocketStream::Send(std::string_view data) {
  if (fd_closed_ || output_dropped_ || data.empty()) return;
  pending_.append(data);
  KickSend();
}

void SocketStream::KickSend() {
  if (send_in_flight_ || fd_closed_) return;
  if (out_offset_ == out_.size()) {
    out_.clear();
    out_offset_ = 0;
    if (pending_.empty()) {
      if (closing_) {
        FinishClose();
      } else if (handler_ != nullptr) {
        handler_->OnSendDrained();
      }
      return;
    }
    out_.swap(pending_);
  }
  send_in_flight_ = true;
  reactor_->Send(fd_, out_.data() + out_offset_, out_.size() - out_offset_,
                 [self = shared_from_this()](int res) {
                   self->send_in_flight_ = false;
                   if (self->output_dropped_) {  // closing: the kernel is done with out_ now
                     self->DropOutput();
                     self->KickSend();  // nothing is queued: finishes the close
                     return;
                   }
                   if (res < 0) {
                     if (res == -EINTR || res == -EAGAIN) {
                       self->KickSend();
                       return;
                     }
                     self->DropOutput();
                     if (self->closing_) {
                       self->FinishClose();
                     } else {
                       self->Fail(res);
                     }
                     return;
                   }
                   self->out_offset_ += static_cast<size_t>(res);
                   self->KickSend();
                 });
}

void SocketStream::DropOutput() {
  pending_.clear();
  // A send in flight still reads out_: it is emptied when that send completes.
  if (send_in_flight_) {
    output_dropped_ = true;
    return;
  }
  out_.clear();
  out_offset_ = 0;
  output_dropped_ = false;
}

void SocketStream::Fail(int error) {
  Handler* h = handler_;
  if (h != nullptr && !closing_) {
    handler_ = nullptr;
    h->OnStreamClosed(error);
  }
  if (!closing_) Close(false);
}

void SocketStream::Close(bool flush, absl::Duration linger) {
  handler_ = nullptr;
  if (closing_) return;
  closing_ = true;
  if (!flush || queued_bytes() == 0) {
    DropOutput();
    FinishClose();
    return;
  }
  // Flush first, but never wait on a client that stopped reading for longer than `linger`.
  linger_timer_ = reactor_->RunAfter(linger, [self = shared_from_this()] {
    self->linger_timer_ = 0;
    self->DropOutput();
    self->FinishClose();
  });
  KickSend();
}

void SocketStream::FinishClose() {
  if (fd_closed_) return;
  // A flush that Close(true) started is finished by the send path (or given up by the linger
  // timer); a receive ending meanwhile (a pause's cancel landing, EOF) must not cut it short,
  // or the last reply (221, "+OK" to QUIT) would be lost under load.
  if (linger_timer_ != 0 && (send_in_flight_ || queued_bytes() > 0)) return;
  // Wake any receive or send still in the kernel; the fd is closed once none refers to it.
  shutdown(fd_, SHUT_RDWR);
  if (recv_active_) {
    reactor_->Cancel(recv_id_);
    return;  // the recv callback calls FinishClose again
  }
  if (send_in_flight_) return;  // the send callback calls KickSend -> FinishClose
  if (linger_timer_ != 0) {
    reactor_->CancelTimer(linger_timer_);
    linger_timer_ = 0;
  }
  fd_closed_ = true;
  close(fd_);
}

}  // namespace kensa
