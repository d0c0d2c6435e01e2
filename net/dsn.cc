// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/dsn.h"

#include <algorithm>
#include <atomic>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "net/smtp_command.h"

namespace kensa::net {
namespace {

constexpr size_t kMaxReturnedMessage = kDsnMaxReturnedMessage;
constexpr size_t kMaxReturnedHeaders = kDsnMaxReturnedHeaders;

std::atomic<uint64_t> g_dsn_counter{0};

std::string Rfc5322Date(absl::Time t) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", t, absl::UTCTimeZone());
}

// The header block of a message, including the blank line, or all of it when it has none
// (capped: a "header block" without an end could be the whole of a huge message).
std::string_view HeaderBlock(std::string_view msg) {
  if (msg.substr(0, 2) == "\r\n") return msg.substr(0, 2);
  size_t end = msg.find("\r\n\r\n");
  if (end != std::string_view::npos) return msg.substr(0, std::min(end + 4, kMaxReturnedHeaders));
  end = msg.find("\n\n");  // a message with bare LF line ends
  if (end != std::string_view::npos) return msg.substr(0, std::min(end + 2, kMaxReturnedHeaders));
  return msg.substr(0, kMaxReturnedHeaders);
}

// ORCPT arrives as the client wrote it, "rfc822;a+2Bb@x" (xtext); the report shows it
// decoded (RFC 3461 4.2, RFC 3464 2.3.1) when it decodes.
std::string DecodedOrcpt(std::string_view orcpt) {
  size_t semi = orcpt.find(';');
  if (semi == std::string_view::npos) return std::string(orcpt);
  std::optional<std::string> value = DecodeXtext(TrimSpaces(orcpt.substr(semi + 1)));
  if (!value.has_value()) return std::string(orcpt);
  return std::string(orcpt.substr(0, semi + 1)) + *value;
}

// Text fields (diagnostics from a remote server) must not break the report's lines, nor
// make one longer than RFC 5322's 998 octets.
std::string OneLine(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 900)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  return out;
}

}  // namespace

std::string BuildDsn(const DsnInput& in) {
  const absl::Time now = absl::Now();
  const uint64_t n = g_dsn_counter.fetch_add(1);
  std::string boundary;
  for (int attempt = 0;; ++attempt) {
    boundary = absl::StrCat("=_kensa_", in.queue_id, "_", absl::ToUnixMicros(now), "_", n, "_",
                            attempt);
    if (in.original_message.find(boundary) == std::string_view::npos) break;
  }
  const bool headers_only =
      in.return_headers_only || in.original_message.size() > kMaxReturnedMessage;

  std::string out;
  absl::StrAppend(&out, "From: Mail Delivery System <MAILER-DAEMON@", in.reporting_mta, ">\r\n",
                  "To: <", in.original_sender, ">\r\n",
                  "Subject: Undelivered Mail Returned to Sender\r\n", "Date: ", Rfc5322Date(now),
                  "\r\n", "Message-ID: <", in.queue_id, ".dsn.", n, "@", in.reporting_mta, ">\r\n",
                  "Auto-Submitted: auto-replied\r\n", "MIME-Version: 1.0\r\n",
                  "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"",
                  boundary, "\"\r\n", "\r\n", "This is a MIME-encapsulated message.\r\n\r\n");

  absl::StrAppend(&out, "--", boundary, "\r\n", "Content-Type: text/plain; charset=us-ascii\r\n",
                  "Content-Description: Notification\r\n\r\n", "This is the mail system at host ",
                  in.reporting_mta, ".\r\n\r\n",
                  "Your message could not be delivered to one or more recipients.\r\n",
                  "It is attached below.\r\n\r\n");
  for (const DsnRecipient& r : in.recipients) {
    absl::StrAppend(&out, "<", OneLine(r.address), ">: ", OneLine(r.diagnostic), "\r\n");
  }
  out += "\r\n";

  absl::StrAppend(&out, "--", boundary, "\r\n", "Content-Type: message/delivery-status\r\n",
                  "Content-Description: Delivery report\r\n\r\n", "Reporting-MTA: dns; ",
                  in.reporting_mta, "\r\n", "X-Kensa-Queue-ID: ", in.queue_id, "\r\n");
  if (!in.envid.empty()) absl::StrAppend(&out, "Original-Envelope-Id: ", OneLine(in.envid), "\r\n");
  if (in.arrival_unix_micros > 0) {
    absl::StrAppend(&out, "Arrival-Date: ",
                    Rfc5322Date(absl::FromUnixMicros(in.arrival_unix_micros)), "\r\n");
  }
  for (const DsnRecipient& r : in.recipients) {
    out += "\r\n";
    if (!r.orcpt.empty()) absl::StrAppend(&out, "Original-Recipient: ", OneLine(DecodedOrcpt(r.orcpt)), "\r\n");
    absl::StrAppend(&out, "Final-Recipient: rfc822; ", OneLine(r.address), "\r\n", "Action: ",
                    r.action, "\r\n", "Status: ", r.status, "\r\n");
    if (!r.remote_mta.empty()) {
      absl::StrAppend(&out, "Remote-MTA: dns; ", OneLine(r.remote_mta), "\r\n");
    }
    if (!r.diagnostic.empty()) {
      absl::StrAppend(&out, "Diagnostic-Code: ", OneLine(r.diagnostic), "\r\n");
    }
  }
  out += "\r\n";

  if (headers_only) {
    absl::StrAppend(&out, "--", boundary, "\r\n", "Content-Type: text/rfc822-headers\r\n",
                    "Content-Description: Undelivered Message Headers\r\n\r\n");
    std::string_view h = HeaderBlock(in.original_message);
    out.append(h.data(), h.size());
  } else {
    absl::StrAppend(&out, "--", boundary, "\r\n", "Content-Type: message/rfc822\r\n",
                    "Content-Description: Undelivered Message\r\n\r\n");
    out.append(in.original_message.data(), in.original_message.size());
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  absl::StrAppend(&out, "\r\n--", boundary, "--\r\n");
  return out;
}

}  // namespace kensa::net
