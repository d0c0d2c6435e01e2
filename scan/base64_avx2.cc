// SPDX-License-Identifier: GPL-2.0-or-later
// AVX2 kernels of the base64 decoder: classification by nibble lookup and decoding by
// multiply-add packing, after Wojciech Muła and Daniel Lemire, "Faster Base64 Encoding and
// Decoding Using AVX2 Instructions" (ACM TWEB 2018). Compiled for AVX2 with a target
// attribute and chosen at run time, so the binary still runs on any x86-64.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "scan/base64_decoder.h"

namespace kensa::scan::base64 {
namespace {

#define KENSA_AVX2 __attribute__((target("avx2")))

// Bit k of lut_lo[low nibble] & lut_hi[high nibble] is set for every byte that is not in the
// alphabet; bytes 0x80-0xff hit 0x10, which every lut_lo entry carries.
KENSA_AVX2 inline __m256i LutLo() {
  return _mm256_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A,
                          0x1B, 0x1B, 0x1B, 0x1A, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                          0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B, 0x1A);
}
KENSA_AVX2 inline __m256i LutHi() {
  return _mm256_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10,
                          0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08,
                          0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
}

// Bit i set when byte i of v is an alphabet character.
KENSA_AVX2 inline uint32_t AlphabetMask(__m256i v) {
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_shuffle_epi8(LutLo(), _mm256_and_si256(v, nibble));
  const __m256i hi = _mm256_shuffle_epi8(LutHi(), _mm256_and_si256(_mm256_srli_epi32(v, 4), nibble));
  const __m256i bad = _mm256_and_si256(lo, hi);
  return static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(bad, _mm256_setzero_si256())));
}

KENSA_AVX2 size_t Avx2Filter(const char* in, size_t n, char* dst, size_t* written) {
  const __m256i pad = _mm256_set1_epi8('=');
  size_t i = 0;
  size_t w = 0;
  while (i + 32 <= n) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i));
    const uint32_t alphabet = AlphabetMask(v);
    // Stored whole; the bytes past the alphabet run are overwritten by the next store.
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + w), v);
    if (alphabet == 0xffffffffu) {
      w += 32;
      i += 32;
      continue;
    }
    const uint32_t pads = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, pad)));
    const unsigned run = __builtin_ctz(~alphabet);
    w += run;
    if ((pads >> run) & 1) {
      *written = w;
      return i + run;
    }
    // Skip the junk (a CRLF, mostly) up to the next alphabet character or '='.
    const uint32_t next = (alphabet | pads) >> run;
    i += run + (next != 0 ? __builtin_ctz(next) : 32 - run);
  }
  size_t tail = 0;
  const size_t used = ScalarKernels().filter(in + i, n - i, dst + w, &tail);
  *written = w + tail;
  return i + used;
}

KENSA_AVX2 void Avx2Decode(const char* in, size_t n, char* dst) {
  const __m256i lut_roll = _mm256_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0,
                                            0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  const __m256i slash = _mm256_set1_epi8('/');
  const __m256i pack_shuffle =
      _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,  //
                       2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
  const __m256i pack_lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, -1, -1);
  size_t i = 0;
  for (; i + 32 <= n; i += 32, dst += 24) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i));
    // Sextet = char + roll[high nibble], with '/' moved to its own slot (index 1).
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi32(v, 4), nibble);
    const __m256i roll = _mm256_shuffle_epi8(lut_roll, _mm256_add_epi8(_mm256_cmpeq_epi8(v, slash), hi));
    const __m256i sextets = _mm256_add_epi8(v, roll);
    // Four sextets to three bytes per 32-bit word, then the words' bytes packed together.
    const __m256i pairs = _mm256_maddubs_epi16(sextets, _mm256_set1_epi32(0x01400140));
    const __m256i words = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00011000));
    const __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(words, pack_shuffle), pack_lanes);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), packed);
  }
  ScalarKernels().decode(in + i, n - i, dst);
}

#undef KENSA_AVX2

constexpr Kernels kAvx2{"avx2", Avx2Filter, Avx2Decode};

}  // namespace

const Kernels* Avx2Kernels() { return __builtin_cpu_supports("avx2") ? &kAvx2 : nullptr; }

}  // namespace kensa::scan::base64
