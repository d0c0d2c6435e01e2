// SPDX-License-Identifier: GPL-2.0-or-later
// Queue files. Postfix's rule: every record is typed and sized, and a file that lacks the END
// record is incomplete and discarded at recovery. Layout:
//   header records (envelope: id, arrival, sender, recipients with DSN parameters, client, ...)
//   CONTENT records (the message bytes as received, in the order written; many per message)
//   END record
//   status records appended after END by the delivery agent (recipient done, attempt count);
//   a torn status record at the very end of the file (crash during an append) is ignored.
// Each record: 1 type byte, 4-byte little-endian payload length, payload.
#ifndef KENSA_SPOOL_QUEUE_FILE_H_
#define KENSA_SPOOL_QUEUE_FILE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kensa::spool {

struct QueuedRecipient {
  std::string address;
  std::string notify;  // RFC 3461 NOTIFY value as given ("SUCCESS,FAILURE"), empty if none
  std::string orcpt;   // RFC 3461 ORCPT value as given ("rfc822;a@b"), empty if none
};

struct QueueEnvelope {
  std::string queue_id;
  int64_t arrival_unix_micros = 0;
  std::string sender;  // empty for the null sender <>
  std::string ret;     // RFC 3461 RET (FULL|HDRS) or empty
  std::string envid;   // RFC 3461 ENVID or empty
  std::string body;    // BODY= (7BIT|8BITMIME|BINARYMIME) or empty
  bool smtputf8 = false;
  std::vector<QueuedRecipient> recipients;
  std::string client_address;
  std::string helo;
  std::string protocol;      // "SMTP", "ESMTP", "ESMTPS", "local"
  std::string trace_header;  // the Received: header kensa prepends on delivery (CRLF lines)
  bool is_bounce = false;    // a DSN kensa generated: never bounced again
};

// Builds the bytes of one queue file; the caller writes them in order.
class QueueFileWriter {
 public:
  explicit QueueFileWriter(const QueueEnvelope& env);
  // The envelope records. Call once, first.
  std::string TakeHeader();
  // One CONTENT record holding `content` (may be empty-split by the caller at any byte).
  std::string ContentRecord(std::string_view content);
  std::string EndRecord();
  uint64_t content_bytes() const { return content_bytes_; }

 private:
  QueueEnvelope env_;
  uint64_t content_bytes_ = 0;
};

// What a complete queue file says (content is not loaded, only located).
struct QueueFileInfo {
  QueueEnvelope envelope;
  // (file offset, length) of each CONTENT record's payload, in order.
  std::vector<std::pair<uint64_t, uint32_t>> content_chunks;
  uint64_t content_bytes = 0;
  std::vector<bool> recipient_done;  // same size as envelope.recipients
  int attempts = 0;
  int64_t last_attempt_unix_micros = 0;
};

// NotFound if the file is missing; DataLoss if it is incomplete (no END) or malformed.
absl::StatusOr<QueueFileInfo> ReadQueueFile(const std::string& path);
// Parses queue file bytes already in memory (what ReadQueueFile does after reading).
absl::StatusOr<QueueFileInfo> ParseQueueFile(std::string_view bytes);
// The message bytes (all CONTENT payloads concatenated) read from an open queue file.
absl::StatusOr<std::string> ReadContent(int fd, const QueueFileInfo& info);

// Status records, appended after END.
std::string RecipientDoneRecord(size_t recipient_index);
std::string AttemptRecord(int64_t unix_micros, int attempts);

// Removes <dir_fd>/<queue_id>; NotFound if it was not there.
absl::Status Unlink(int dir_fd, const std::string& queue_id);

}  // namespace kensa::spool

#endif  // KENSA_SPOOL_QUEUE_FILE_H_
