// SPDX-License-Identifier: GPL-2.0-or-later
// The canary samples CheckCanaries (signature_set.h) scans before a signature set is
// published: the EICAR test file, which every set must detect, and clean samples that no set
// may flag. All are built in memory, so no file on disk can trip a desktop virus scanner.
#ifndef KENSA_SIGS_CANARIES_H_
#define KENSA_SIGS_CANARIES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kensa::sigs {

// The 68-byte EICAR anti-virus test file, assembled at run time.
std::string EicarTestFile();

struct CanarySample {
  std::string name;  // what it is, for the error message
  std::string data;
};

// Plain text, HTML, and a zip holding one stored text file.
std::vector<CanarySample> CleanCanarySamples();

// A zip archive of one stored (uncompressed) entry; `crc32` is the entry's CRC-32 (the zip
// one, as zlib's crc32 computes it), which the caller supplies because kensa links no CRC-32.
std::string StoredZip(std::string_view entry_name, std::string_view content, uint32_t crc32);

}  // namespace kensa::sigs

#endif  // KENSA_SIGS_CANARIES_H_
