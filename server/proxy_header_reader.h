// SPDX-License-Identifier: GPL-2.0-or-later
// ProxyHeaderReader: the first bytes of a connection through a load balancer, the PROXY
// protocol header (net/proxy_protocol.h), read within the listener's timeout and size limit.
// It answers once: the header (the stream then holds what followed it, for the session), or
// why there is none. The owner closes the stream on an error; nothing is sent to the peer.
#ifndef KENSA_SERVER_PROXY_HEADER_READER_H_
#define KENSA_SERVER_PROXY_HEADER_READER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/reactor.h"
#include "core/socket_stream.h"
#include "net/proxy_protocol.h"

namespace kensa {

class ProxyHeaderReader : public SocketStream::Handler {
 public:
  using Done = absl::AnyInvocable<void(absl::StatusOr<net::ProxyHeader>)>;

  ProxyHeaderReader(Reactor* reactor, std::shared_ptr<SocketStream> stream,
                    absl::Duration timeout, size_t max_bytes, Done done);
  ~ProxyHeaderReader() override;
  ProxyHeaderReader(const ProxyHeaderReader&) = delete;
  ProxyHeaderReader& operator=(const ProxyHeaderReader&) = delete;

  void Start();
  const std::shared_ptr<SocketStream>& stream() const { return stream_; }

  void OnReceive(std::string_view bytes) override;
  void OnStreamClosed(int error) override;

 private:
  void Finish(absl::StatusOr<net::ProxyHeader> result);

  Reactor* reactor_;
  std::shared_ptr<SocketStream> stream_;
  absl::Duration timeout_;
  size_t max_bytes_;
  Done done_;
  std::string received_;
  Reactor::TimerId timer_ = 0;
  bool finished_ = false;
};

}  // namespace kensa

#endif  // KENSA_SERVER_PROXY_HEADER_READER_H_
