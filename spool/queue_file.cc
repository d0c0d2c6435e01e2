// SPDX-License-Identifier: GPL-2.0-or-later
#include "spool/queue_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "spool/record_format.h"
#include "spool/record_source.h"

namespace kensa::spool {
namespace {

namespace rec = record;

void PutString(std::string* out, std::string_view s) {
  rec::PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

// Takes one u32-length-prefixed string off the front of `in`.
bool TakeString(std::string_view* in, std::string* out) {
  if (in->size() < 4) return false;
  uint32_t n = rec::GetU32(in->data());
  in->remove_prefix(4);
  if (n > in->size()) return false;
  out->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

bool TakeU32(std::string_view* in, uint32_t* out) {
  if (in->size() < 4) return false;
  *out = rec::GetU32(in->data());
  in->remove_prefix(4);
  return true;
}

bool TakeU64(std::string_view* in, uint64_t* out) {
  if (in->size() < 8) return false;
  *out = rec::GetU64(in->data());
  in->remove_prefix(8);
  return true;
}

}  // namespace

// The one rule for edits, shared by the parser and ApplyEdits: each edit lies inside the
// content and starts at or after the end of the one before it (adjacent is fine).
absl::Status CheckEdits(const std::vector<ContentEdit>& edits, uint64_t content_size) {
  uint64_t prev_end = 0;
  for (size_t i = 0; i < edits.size(); ++i) {
    const ContentEdit& e = edits[i];
    if (e.begin > e.end || e.end > content_size) {
      return absl::DataLossError(absl::StrCat("edit ", i, " [", e.begin, ", ", e.end,
                                              ") lies outside the ", content_size,
                                              " content bytes"));
    }
    if (e.begin < prev_end) {
      return absl::DataLossError(absl::StrCat("edit ", i, " at ", e.begin,
                                              " overlaps or precedes the edit before it"));
    }
    prev_end = e.end;
  }
  return absl::OkStatus();
}

namespace {

std::string EncodeScanOutcome(const ScanOutcome& outcome) {
  std::string p;
  rec::PutU32(&p, static_cast<uint32_t>(outcome.variants.size()));
  for (const ContentVariant& v : outcome.variants) {
    PutString(&p, v.headers);
    rec::PutU32(&p, static_cast<uint32_t>(v.edits.size()));
    for (const ContentEdit& e : v.edits) {
      rec::PutU64(&p, e.begin);
      rec::PutU64(&p, e.end);
      PutString(&p, e.replacement);
    }
  }
  rec::PutU32(&p, static_cast<uint32_t>(outcome.recipient_variant.size()));
  for (uint32_t v : outcome.recipient_variant) rec::PutU32(&p, v);
  return p;
}

// Decodes the scan record's payload; false if it is malformed. Counts are never trusted for
// allocation: every element is taken off the (bounded) payload before it is stored.
bool ParseScanPayload(std::string_view p, ScanOutcome* out) {
  uint32_t variants = 0;
  if (!TakeU32(&p, &variants)) return false;
  for (uint32_t i = 0; i < variants; ++i) {
    ContentVariant v;
    uint32_t edits = 0;
    if (!TakeString(&p, &v.headers) || !TakeU32(&p, &edits)) return false;
    for (uint32_t j = 0; j < edits; ++j) {
      ContentEdit e;
      if (!TakeU64(&p, &e.begin) || !TakeU64(&p, &e.end) || !TakeString(&p, &e.replacement)) {
        return false;
      }
      v.edits.push_back(std::move(e));
    }
    out->variants.push_back(std::move(v));
  }
  uint32_t recipients = 0;
  if (!TakeU32(&p, &recipients)) return false;
  for (uint32_t i = 0; i < recipients; ++i) {
    uint32_t index = 0;
    if (!TakeU32(&p, &index)) return false;
    out->recipient_variant.push_back(index);
  }
  return p.empty();
}

// What the scan record must agree with once END has given the content length.
absl::Status CheckScanOutcome(const QueueFileInfo& info, const std::string& name) {
  const ScanOutcome& scan = info.scan;
  if (scan.recipient_variant.size() != info.envelope.recipients.size()) {
    return absl::DataLossError(absl::StrCat(name, ": scan record names ",
                                            scan.recipient_variant.size(), " recipients, envelope has ",
                                            info.envelope.recipients.size()));
  }
  for (uint32_t v : scan.recipient_variant) {
    if (v >= scan.variants.size()) {
      return absl::DataLossError(absl::StrCat(name, ": scan record variant index ", v,
                                              " out of range (", scan.variants.size(), " variants)"));
    }
  }
  for (size_t i = 0; i < scan.variants.size(); ++i) {
    if (absl::Status s = CheckEdits(scan.variants[i].edits, info.content_bytes); !s.ok()) {
      return absl::DataLossError(absl::StrCat(name, ": scan record variant ", i, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

bool ParseBool(std::string_view p, bool* out) {
  if (p.size() != 1 || (p[0] != 0 && p[0] != 1)) return false;
  *out = p[0] == 1;
  return true;
}

// Applies one envelope record; false if its payload is malformed or its type is unknown.
bool ApplyHeaderRecord(char type, std::string_view p, QueueEnvelope* env) {
  switch (type) {
    case rec::kQueueId: env->queue_id.assign(p); return true;
    case rec::kSender: env->sender.assign(p); return true;
    case rec::kRet: env->ret.assign(p); return true;
    case rec::kEnvid: env->envid.assign(p); return true;
    case rec::kBody: env->body.assign(p); return true;
    case rec::kClient: env->client_address.assign(p); return true;
    case rec::kHelo: env->helo.assign(p); return true;
    case rec::kProtocol: env->protocol.assign(p); return true;
    case rec::kTrace: env->trace_header.assign(p); return true;
    case rec::kAuthUser: env->auth_user.assign(p); return true;
    case rec::kSmtpUtf8: return ParseBool(p, &env->smtputf8);
    case rec::kIsBounce: return ParseBool(p, &env->is_bounce);
    case rec::kArrival:
      if (p.size() != 8) return false;
      env->arrival_unix_micros = static_cast<int64_t>(rec::GetU64(p.data()));
      return true;
    case rec::kRecipient: {
      QueuedRecipient r;
      if (!TakeString(&p, &r.address) || !TakeString(&p, &r.notify) ||
          !TakeString(&p, &r.orcpt) || !p.empty()) {
        return false;
      }
      env->recipients.push_back(std::move(r));
      return true;
    }
    default: return false;
  }
}

// Status records are advisory: a malformed or unknown one (a newer writer, a bad index) is
// skipped rather than costing the message.
void ApplyStatusRecord(char type, std::string_view p, QueueFileInfo* info) {
  if (type == rec::kRecipientDone && p.size() == 8) {
    uint64_t i = rec::GetU64(p.data());
    if (i < info->recipient_done.size()) info->recipient_done[i] = true;
  } else if (type == rec::kAttempt && p.size() == 12) {
    info->last_attempt_unix_micros = static_cast<int64_t>(rec::GetU64(p.data()));
    uint32_t n = rec::GetU32(p.data() + 8);
    info->attempts = n > INT32_MAX ? INT32_MAX : static_cast<int>(n);
  } else if (type == rec::kHold && p.size() == 1) {
    info->held = p[0] == 1;
  }
}

absl::Status CheckMagic(std::string_view p, const std::string& name) {
  if (p.size() != rec::kMagicText.size() + 1 || p.substr(0, rec::kMagicText.size()) != rec::kMagicText) {
    return absl::DataLossError(absl::StrCat(name, ": not a kensa queue file"));
  }
  uint8_t version = static_cast<uint8_t>(p.back());
  if (version != rec::kVersion) {
    // Not DataLoss: recovery deletes DataLoss files, and a newer kensa's queue (after a
    // downgrade) must be left for that kensa, not destroyed.
    return absl::FailedPreconditionError(
        absl::StrCat(name, ": unsupported queue file version ", version));
  }
  return absl::OkStatus();
}

// The one parser, over memory or a file. `name` labels errors (a path, or "queue file").
absl::StatusOr<QueueFileInfo> Parse(RecordSource& src, const std::string& name) {
  QueueFileInfo info;
  const uint64_t size = src.size();
  uint64_t off = 0;
  bool first = true;
  bool ended = false;
  bool scanned = false;
  while (off < size) {
    if (size - off < rec::kRecordHeaderSize) {
      if (ended) break;  // torn status record
      return absl::DataLossError(absl::StrCat(name, ": truncated record at offset ", off));
    }
    absl::StatusOr<std::string_view> h = src.Read(off, rec::kRecordHeaderSize);
    if (!h.ok()) return h.status();
    const char type = (*h)[0];
    const uint32_t len = rec::GetU32(h->data() + 1);
    const uint64_t payload_off = off + rec::kRecordHeaderSize;
    if (len > size - payload_off) {
      if (ended) break;  // torn status record
      return absl::DataLossError(
          absl::StrCat(name, ": record at offset ", off, " runs past the end of the file"));
    }
    off = payload_off + len;
    if (first && type != rec::kMagic) {
      return absl::DataLossError(absl::StrCat(name, ": not a kensa queue file"));
    }
    if (!ended && scanned && type != rec::kEnd) {
      return absl::DataLossError(
          absl::StrCat(name, ": record after the scan record at offset ", payload_off - 5));
    }
    if (!ended && type == rec::kScan) {
      if (len > rec::kMaxScanPayload) {
        return absl::DataLossError(
            absl::StrCat(name, ": oversized scan record at offset ", payload_off - 5));
      }
      absl::StatusOr<std::string_view> p = src.Read(payload_off, len);
      if (!p.ok()) return p.status();
      if (!ParseScanPayload(*p, &info.scan)) {
        return absl::DataLossError(
            absl::StrCat(name, ": malformed scan record at offset ", payload_off - 5));
      }
      scanned = true;
      continue;
    }
    if (!ended && type == rec::kContent) {
      // Located, not loaded.
      if (len > 0) info.content_chunks.emplace_back(payload_off, len);
      info.content_bytes += len;
      continue;
    }
    if (len > rec::kMaxHeaderPayload) {
      if (ended) continue;
      return absl::DataLossError(absl::StrCat(name, ": oversized record at offset ", payload_off - 5));
    }
    absl::StatusOr<std::string_view> p = src.Read(payload_off, len);
    if (!p.ok()) return p.status();
    if (first) {
      if (absl::Status s = CheckMagic(*p, name); !s.ok()) return s;
      first = false;
      continue;
    }
    if (ended) {
      ApplyStatusRecord(type, *p, &info);
      continue;
    }
    if (type == rec::kEnd) {
      if (p->size() != 8 || rec::GetU64(p->data()) != info.content_bytes) {
        return absl::DataLossError(absl::StrCat(name, ": END record does not match the content"));
      }
      // Checked here, not at the scan record: only END vouches for the content length.
      if (scanned) {
        if (absl::Status s = CheckScanOutcome(info, name); !s.ok()) return s;
      }
      ended = true;
      info.recipient_done.assign(info.envelope.recipients.size(), false);
      continue;
    }
    if (type == rec::kMagic || !ApplyHeaderRecord(type, *p, &info.envelope)) {
      return absl::DataLossError(absl::StrCat(name, ": bad record type 0x",
                                              absl::Hex(static_cast<uint8_t>(type)),
                                              " at offset ", payload_off - 5));
    }
  }
  if (!ended) return absl::DataLossError(absl::StrCat(name, ": incomplete (no END record)"));
  return info;
}

// The directory's path, for error messages only (the fd is what the code trusts).
std::string DirPath(int dir_fd) {
  char buf[4096];
  std::string link = absl::StrCat("/proc/self/fd/", dir_fd);
  ssize_t n = readlink(link.c_str(), buf, sizeof(buf));
  if (n <= 0) return absl::StrCat("<dir fd ", dir_fd, ">");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

QueueFileWriter::QueueFileWriter(const QueueEnvelope& env) : env_(env) {}

std::string QueueFileWriter::TakeHeader() {
  std::string out;
  std::string magic(rec::kMagicText);
  magic.push_back(static_cast<char>(rec::kVersion));
  rec::Append(&out, rec::kMagic, magic);
  rec::Append(&out, rec::kQueueId, env_.queue_id);
  std::string arrival;
  rec::PutU64(&arrival, static_cast<uint64_t>(env_.arrival_unix_micros));
  rec::Append(&out, rec::kArrival, arrival);
  rec::Append(&out, rec::kSender, env_.sender);
  rec::Append(&out, rec::kRet, env_.ret);
  rec::Append(&out, rec::kEnvid, env_.envid);
  rec::Append(&out, rec::kBody, env_.body);
  rec::Append(&out, rec::kSmtpUtf8, std::string_view(env_.smtputf8 ? "\1" : "\0", 1));
  for (const QueuedRecipient& r : env_.recipients) {
    std::string p;
    PutString(&p, r.address);
    PutString(&p, r.notify);
    PutString(&p, r.orcpt);
    rec::Append(&out, rec::kRecipient, p);
  }
  rec::Append(&out, rec::kClient, env_.client_address);
  rec::Append(&out, rec::kHelo, env_.helo);
  rec::Append(&out, rec::kProtocol, env_.protocol);
  rec::Append(&out, rec::kTrace, env_.trace_header);
  rec::Append(&out, rec::kIsBounce, std::string_view(env_.is_bounce ? "\1" : "\0", 1));
  if (!env_.auth_user.empty()) rec::Append(&out, rec::kAuthUser, env_.auth_user);
  return out;
}

std::string QueueFileWriter::ContentRecord(std::string_view content) {
  std::string out;
  // Keep every record expressible in the 4-byte length however large the caller's piece.
  constexpr size_t kMaxChunk = size_t{1} << 30;
  do {
    std::string_view piece = content.substr(0, kMaxChunk);
    content.remove_prefix(piece.size());
    rec::Append(&out, rec::kContent, piece);
    content_bytes_ += piece.size();
  } while (!content.empty());
  return out;
}

std::string QueueFileWriter::ScanRecord(const ScanOutcome& outcome) {
  std::string out;
  rec::Append(&out, rec::kScan, EncodeScanOutcome(outcome));
  return out;
}

std::string QueueFileWriter::EndRecord() {
  std::string p;
  rec::PutU64(&p, content_bytes_);
  std::string out;
  rec::Append(&out, rec::kEnd, p);
  return out;
}

absl::StatusOr<std::string> ApplyEdits(std::string_view original,
                                       const std::vector<ContentEdit>& edits) {
  if (absl::Status s = CheckEdits(edits, original.size()); !s.ok()) return s;
  size_t size = original.size();
  for (const ContentEdit& e : edits) size = size - (e.end - e.begin) + e.replacement.size();
  std::string out;
  out.reserve(size);
  uint64_t at = 0;
  for (const ContentEdit& e : edits) {
    out.append(original.substr(at, e.begin - at));
    out.append(e.replacement);
    at = e.end;
  }
  out.append(original.substr(at));
  return out;
}

absl::StatusOr<QueueFileInfo> ParseQueueFile(std::string_view bytes) {
  MemorySource src(bytes);
  return Parse(src, "queue file");
}

absl::StatusOr<QueueFileInfo> ReadQueueFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string msg = absl::StrCat("open ", path, ": ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(msg) : absl::InternalError(msg);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("stat ", path, ": ", std::strerror(err)));
  }
  FileSource src(fd, static_cast<uint64_t>(st.st_size), path);
  absl::StatusOr<QueueFileInfo> info = Parse(src, path);
  close(fd);
  return info;
}

absl::StatusOr<std::string> ReadContent(int fd, const QueueFileInfo& info) {
  std::string out;
  out.resize(info.content_bytes);
  size_t at = 0;
  for (const auto& [offset, len] : info.content_chunks) {
    if (len > out.size() - at) return absl::DataLossError("queue file: content chunks exceed content size");
    absl::Status s = PreadFully(fd, out.data() + at, len, offset,
                                absl::StrCat("queue file ", info.envelope.queue_id));
    if (!s.ok()) return s;
    at += len;
  }
  if (at != out.size()) return absl::DataLossError("queue file: content chunks short of content size");
  return out;
}

std::string RecipientDoneRecord(size_t recipient_index) {
  std::string p;
  rec::PutU64(&p, recipient_index);
  std::string out;
  rec::Append(&out, rec::kRecipientDone, p);
  return out;
}

std::string AttemptRecord(int64_t unix_micros, int attempts) {
  std::string p;
  rec::PutU64(&p, static_cast<uint64_t>(unix_micros));
  rec::PutU32(&p, attempts < 0 ? 0 : static_cast<uint32_t>(attempts));
  std::string out;
  rec::Append(&out, rec::kAttempt, p);
  return out;
}

std::string HoldRecord(bool held) {
  std::string out;
  rec::Append(&out, rec::kHold, std::string_view(held ? "\x01" : "\x00", 1));
  return out;
}

absl::Status Unlink(int dir_fd, const std::string& queue_id) {
  // The id becomes a name relative to the shard directory; never let it climb out of it.
  if (queue_id.empty() || queue_id == "." || queue_id == ".." ||
      queue_id.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("unlink: bad queue id \"", queue_id, "\""));
  }
  if (unlinkat(dir_fd, queue_id.c_str(), 0) != 0) {
    int err = errno;
    std::string msg = absl::StrCat("unlink ", DirPath(dir_fd), "/", queue_id, ": ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(msg) : absl::InternalError(msg);
  }
  return absl::OkStatus();
}

}  // namespace kensa::spool
