// SPDX-License-Identifier: GPL-2.0-or-later
#include "server/proxy_header_reader.h"

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kensa {

ProxyHeaderReader::ProxyHeaderReader(Reactor* reactor, std::shared_ptr<SocketStream> stream,
                                     absl::Duration timeout, size_t max_bytes, Done done)
    : reactor_(reactor),
      stream_(std::move(stream)),
      timeout_(timeout),
      max_bytes_(max_bytes),
      done_(std::move(done)) {}

ProxyHeaderReader::~ProxyHeaderReader() {
  if (timer_ != 0) reactor_->CancelTimer(timer_);
}

void ProxyHeaderReader::Start() {
  // The timer belongs to this reader, which the owner keeps until Finish has answered.
  timer_ = reactor_->RunAfter(timeout_, [this] {
    timer_ = 0;
    Finish(absl::DeadlineExceededError(
        absl::StrCat("no complete PROXY header within ", absl::FormatDuration(timeout_))));
  });
  stream_->Start(this);
}

void ProxyHeaderReader::OnReceive(std::string_view bytes) {
  if (finished_) return;
  received_.append(bytes);
  net::ProxyParse p = net::ParseProxyHeader(received_, max_bytes_);
  switch (p.state) {
    case net::ProxyParse::State::kNeedMore:
      return;
    case net::ProxyParse::State::kError:
      Finish(absl::InvalidArgumentError(p.error));
      return;
    case net::ProxyParse::State::kDone:
      stream_->Handover(received_.substr(p.header.length));
      Finish(std::move(p.header));
      return;
  }
}

void ProxyHeaderReader::OnStreamClosed(int error) {
  Finish(absl::UnavailableError(
      error == 0 ? std::string("closed before the PROXY header")
                 : absl::StrCat("socket error before the PROXY header: ", std::strerror(-error))));
}

void ProxyHeaderReader::Finish(absl::StatusOr<net::ProxyHeader> result) {
  if (finished_) return;
  finished_ = true;
  if (timer_ != 0) {
    reactor_->CancelTimer(timer_);
    timer_ = 0;
  }
  // The owner may destroy this reader from here on; nothing below touches it.
  Done done = std::move(done_);
  done(std::move(result));
}

}  // namespace kensa
