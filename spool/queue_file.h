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
  // Who authenticated (SMTP AUTH) to send it, or empty: such mail leaves through the
  // outbound next hop.
  std::string auth_user;
};

// A replacement of original content bytes [begin, end) (offsets in the message as received,
// without the trace header) by `replacement`.
struct ContentEdit {
  uint64_t begin = 0;
  uint64_t end = 0;
  std::string replacement;
  bool operator==(const ContentEdit&) const = default;
};

// One way the message leaves kensa: the original with `edits` applied (sorted,
// non-overlapping) and `headers` (CRLF lines, e.g. X-Virus-Status) after the trace header.
struct ContentVariant {
  std::string headers;
  std::vector<ContentEdit> edits;
  bool operator==(const ContentVariant&) const = default;
};

// What scanning decided, written before END: the copies to make and which recipient gets
// which. Without it (an unscanned message) every recipient gets the content as received.
struct ScanOutcome {
  std::vector<ContentVariant> variants;
  std::vector<uint32_t> recipient_variant;  // one per envelope recipient, index into variants
  bool operator==(const ScanOutcome&) const = default;
};

// DataLoss unless the edits are sorted, non-overlapping and inside content_size bytes: what
// the parser demands of a queue file, so a writer checks it before it commits one.
absl::Status CheckEdits(const std::vector<ContentEdit>& edits, uint64_t content_size);

// The original with the variant's edits applied (headers not included). Edits out of range
// or out of order are an error (a corrupt queue file), not a guess.
absl::StatusOr<std::string> ApplyEdits(std::string_view original,
                                       const std::vector<ContentEdit>& edits);

// Builds the bytes of one queue file; the caller writes them in order.
class QueueFileWriter {
 public:
  explicit QueueFileWriter(const QueueEnvelope& env);
  // The envelope records. Call once, first.
  std::string TakeHeader();
  // One CONTENT record holding `content` (may be empty-split by the caller at any byte).
  std::string ContentRecord(std::string_view content);
  // The scan outcome record; written after the last CONTENT record, before END.
  std::string ScanRecord(const ScanOutcome& outcome);
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
  ScanOutcome scan;  // empty variants when the message was not scanned
  std::vector<bool> recipient_done;  // same size as envelope.recipients
  int attempts = 0;
  int64_t last_attempt_unix_micros = 0;
  bool held = false;  // held by the operator: not attempted until released
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
std::string HoldRecord(bool held);

// Removes <dir_fd>/<queue_id>; NotFound if it was not there.
absl::Status Unlink(int dir_fd, const std::string& queue_id);

}  // namespace kensa::spool

#endif  // KENSA_SPOOL_QUEUE_FILE_H_
