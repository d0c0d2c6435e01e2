// SPDX-License-Identifier: GPL-2.0-or-later
// Private to scan/: the base64 decoder's two kernels (scalar and AVX2) and a way to build a
// stream decoder on a chosen one, so tests and the benchmark can hold them against each other.
#ifndef KENSA_SCAN_BASE64_DECODER_H_
#define KENSA_SCAN_BASE64_DECODER_H_

#include <cstddef>
#include <memory>

#include "scan/transfer_encoding.h"

namespace kensa::scan::base64 {

// Bytes a kernel may write past the end of what it reports, so a vector store needs no tail
// loop. Every buffer handed to a kernel has this much room beyond its nominal size.
inline constexpr size_t kKernelSlack = 32;

struct Kernels {
  const char* name;
  // Copies the alphabet characters of in[0, n) to dst, skipping whitespace and junk, and stops
  // at the first '=' (not consumed). Returns the input bytes consumed; *written = chars copied.
  size_t (*filter)(const char* in, size_t n, char* dst, size_t* written);
  // Decodes `n` alphabet characters, n a multiple of 4, into n / 4 * 3 bytes at dst.
  void (*decode)(const char* in, size_t n, char* dst);
};

const Kernels& ScalarKernels();
// Null where the CPU lacks AVX2.
const Kernels* Avx2Kernels();
// The fastest kernels this CPU runs; chosen once.
const Kernels& BestKernels();

// The stream decoder of NewStreamDecoder(kBase64), on the given kernels.
std::unique_ptr<StreamDecoder> NewDecoder(const Kernels& kernels);

}  // namespace kensa::scan::base64

#endif  // KENSA_SCAN_BASE64_DECODER_H_
