// SPDX-License-Identifier: GPL-2.0-or-later
// The on-disk record vocabulary of queue files, shared by the writer and the parser.
// Type bytes are printable so that `xxd` of a queue file is readable by an operator.
#ifndef KENSA_SPOOL_RECORD_FORMAT_H_
#define KENSA_SPOOL_RECORD_FORMAT_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace kensa::spool::record {

// First record of every file: magic + version. A file without it is not ours.
inline constexpr char kMagic = 'M';
inline constexpr std::string_view kMagicText = "kensa-queue-file";
inline constexpr uint8_t kVersion = 1;

// Header (envelope) records.
inline constexpr char kQueueId = 'I';
inline constexpr char kArrival = 'T';     // int64 LE, unix micros
inline constexpr char kSender = 'S';
inline constexpr char kRet = 'R';
inline constexpr char kEnvid = 'V';
inline constexpr char kBody = 'B';
inline constexpr char kSmtpUtf8 = 'U';    // one byte, 0 or 1
inline constexpr char kRecipient = 'r';   // three u32-length-prefixed strings
inline constexpr char kClient = 'C';
inline constexpr char kHelo = 'H';
inline constexpr char kProtocol = 'P';
inline constexpr char kTrace = 'X';
inline constexpr char kIsBounce = 'b';    // one byte, 0 or 1
inline constexpr char kAuthUser = 'L';    // the SMTP AUTH identity; absent = not authenticated

inline constexpr char kContent = 'D';
// What scanning decided (ScanOutcome), after the last CONTENT record and before END, at most
// once. Payload, all integers little-endian:
//   u32 variant count; per variant: u32-length-prefixed headers, u32 edit count, per edit
//   u64 begin, u64 end, u32-length-prefixed replacement;
//   u32 recipient count; per recipient: u32 variant index.
inline constexpr char kScan = 'Z';
inline constexpr char kEnd = 'E';         // uint64 LE: total content bytes, a cross-check

// Status records, only after END.
inline constexpr char kRecipientDone = 'd';  // uint64 LE recipient index
inline constexpr char kAttempt = 'A';        // int64 LE unix micros, uint32 LE attempt count
// The operator's hold (admin shell): one byte, 1 held, 0 released; the last one counts.
inline constexpr char kHold = 'h';

inline constexpr size_t kRecordHeaderSize = 5;
// Envelope records are addresses and one trace header; anything larger is corruption, and
// refusing it keeps a flipped length byte from turning into a large allocation.
inline constexpr uint32_t kMaxHeaderPayload = 1 << 20;
// The scan record carries every replacement notice (a few KB each, one per infected part and
// variant), so it gets its own, larger bound; beyond it the record is corruption.
inline constexpr uint32_t kMaxScanPayload = 16 << 20;

inline void PutU32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out->append(b, 4);
}

inline void PutU64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out->append(b, 8);
}

inline uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

inline uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Appends one record. Payloads over 4 GiB cannot be expressed; callers split content.
inline void Append(std::string* out, char type, std::string_view payload) {
  out->push_back(type);
  PutU32(out, static_cast<uint32_t>(payload.size()));
  out->append(payload.data(), payload.size());
}

}  // namespace kensa::spool::record

#endif  // KENSA_SPOOL_RECORD_FORMAT_H_
