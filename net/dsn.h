// SPDX-License-Identifier: GPL-2.0-or-later
// Delivery status notifications (RFC 3464 multipart/report; RFC 3461 parameters): the bounce a
// sender gets when kensa gives up on recipients.
#ifndef KENSA_NET_DSN_H_
#define KENSA_NET_DSN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kensa::net {

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
  std::string_view original_message;  // as received (without kensa's trace header)
  bool return_headers_only = false;   // RET=HDRS
};

// The complete DSN message (headers and body, CRLF lines): From MAILER-DAEMON@reporting_mta,
// To the original sender, a human-readable part, message/delivery-status, and the original
// message (message/rfc822) or its headers (text/rfc822-headers).
std::string BuildDsn(const DsnInput& in);

}  // namespace kensa::net

#endif  // KENSA_NET_DSN_H_
