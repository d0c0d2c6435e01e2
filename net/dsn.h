// SPDX-License-Identifier: GPL-2.0-or-later
// Delivery status notifications (RFC 3464 multipart/report; RFC 3461 parameters): the bounce a
// sender gets when kensa gives up on recipients.
#ifndef KENSA_NET_DSN_H_
#define KENSA_NET_DSN_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kensa::net {

// A DSN returns the original message whole up to this size, beyond it only its header block
// (as Postfix's bounce_size_limit, which truncates instead). The caller reads the original
// from the queue file and need read no more than these bounds: a bounce costs at most
// kDsnMaxReturnedMessage of memory whatever the message's size.
inline constexpr size_t kDsnMaxReturnedMessage = 10u << 20;
// The header block returned is cut here (a "header block" without an end could be the whole
// of a huge message).
inline constexpr size_t kDsnMaxReturnedHeaders = 1u << 20;

struct DsnRecipient {
  std::string address;
  std::string orcpt;       // "rfc822;a@b" as given by the client, or empty
  std::string action;      // "failed", "delayed", "delivered"
  std::string status;      // "5.1.1"
  std::string diagnostic;  // "smtp; 550 5.1.1 no such user"
  std::string remote_mta;  // the next hop that answered, or empty
};

struct DsnInput {
  std::string reporting_mta;  // our hostname
  std::string queue_id;
  std::string envid;
  std::string original_sender;
  int64_t arrival_unix_micros = 0;
  std::vector<DsnRecipient> recipients;
  // As received (without kensa's trace header). Over kDsnMaxReturnedMessage, only its header
  // block is used, so a caller with a bigger message sets return_headers_only and passes
  // the first kDsnMaxReturnedHeaders bytes.
  std::string_view original_message;
  bool return_headers_only = false;   // RET=HDRS, or the message is too big to return
};

// The complete DSN message (headers and body, CRLF lines): From MAILER-DAEMON@reporting_mta,
// To the original sender, a human-readable part, message/delivery-status, and the original
// message (message/rfc822) or its headers (text/rfc822-headers).
std::string BuildDsn(const DsnInput& in);

}  // namespace kensa::net

#endif  // KENSA_NET_DSN_H_
