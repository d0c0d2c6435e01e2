// SPDX-License-Identifier: GPL-2.0-or-later
// FileTypeTable: libclamav's file-type entries (its built-in table and a set's own .ftm
// files), as the prefilter needs them to know, without asking libclamav, that an object is
// typed by its bytes alone — text or binary data — and gets nothing more than its signatures
// matched (scan/plain_typing.h):
//  - kind 0, a magic at a fixed offset among the first 1024 bytes: compared directly, as
//    cli_compare_ftm_file does;
//  - kind 1, a pattern libclamav's matcher looks for while it reads a layer: a plain one at a
//    fixed offset among those bytes is compared like a magic; the others make one Hyperscan
//    streaming database, anchored when at offset 0 and looked for anywhere otherwise (a range
//    of offsets, EOF-n), with long or ranged gaps read as any number of bytes. Both can only
//    find more than libclamav does, and compile in milliseconds where exact repeats take
//    seconds.
// Partition entries (kind 4) type partitions of a disk image, never a file: left out.
#ifndef KENSA_SCAN_FILE_TYPE_TABLE_H_
#define KENSA_SCAN_FILE_TYPE_TABLE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

struct hs_database;

namespace kensa::scan {

class FileTypeTable {
 public:
  // `entries`: .ftm lines ("kind:offset:hex:name:required_type:detected_type[:flevels]").
  // Every entry is kept whatever its functionality levels, which can only type more objects.
  // An entry whose syntax is not understood is an error: a table that misses one entry
  // cannot say an object is untyped.
  static absl::StatusOr<std::unique_ptr<const FileTypeTable>> Build(
      const std::vector<std::string>& entries);
  ~FileTypeTable();
  FileTypeTable(const FileTypeTable&) = delete;
  FileTypeTable& operator=(const FileTypeTable&) = delete;

  // Whether a kind-0 magic sits at its offset in `head`, an object's first
  // min(size, kTypingBytes) bytes.
  bool MagicMatches(std::string_view head) const;
  // The kind-1 patterns (HS_MODE_STREAM); null when there are none.
  const hs_database* patterns() const { return patterns_; }
  size_t magic_count() const { return magics_.size(); }
  size_t pattern_count() const { return pattern_count_; }

  // How many first bytes libclamav types an object by (CL_FILE_MBUFF_SIZE).
  static constexpr size_t kTypingBytes = 1024;

 private:
  FileTypeTable() = default;
  struct Magic {
    size_t offset = 0;
    std::string bytes;
  };
  std::vector<Magic> magics_;
  hs_database* patterns_ = nullptr;
  size_t pattern_count_ = 0;
};

// A ClamAV body-signature pattern as libclamav's file types write them ("4d5a{60-300}5045",
// "(68|48)", "??", nibbles, "*", "{-n}") as a Hyperscan expression (HS_FLAG_DOTALL); nullopt
// for syntax outside that (negations, word boundaries, malformed hex).
std::optional<std::string> HexPatternToRegex(std::string_view hex);

}  // namespace kensa::scan

#endif  // KENSA_SCAN_FILE_TYPE_TABLE_H_
