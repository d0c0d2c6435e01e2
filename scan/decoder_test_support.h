// SPDX-License-Identifier: GPL-2.0-or-later
// Test helpers for the transfer decoders: decoding with random Feed() splits, and the path of
// the shared third-party corpora.
#ifndef KENSA_SCAN_DECODER_TEST_SUPPORT_H_
#define KENSA_SCAN_DECODER_TEST_SUPPORT_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>

#include "scan/transfer_encoding.h"

namespace kensa::scan::testing {

inline std::string DecodeWhole(StreamDecoder& d, std::string_view in) {
  std::string out;
  d.Feed(in, &out);
  d.Finish(&out);
  return out;
}

// Feeds `in` in pieces of random length (empty pieces included) from `rng`; max_piece 1 gives
// byte-at-a-time feeding.
inline std::string DecodeSplit(StreamDecoder& d, std::string_view in, std::mt19937& rng, size_t max_piece) {
  std::string out;
  std::uniform_int_distribution<size_t> len(0, max_piece);
  while (!in.empty()) {
    const size_t n = std::min(in.size(), max_piece == 1 ? size_t{1} : len(rng));
    d.Feed(in.substr(0, n), &out);
    in.remove_prefix(n);
  }
  d.Finish(&out);
  return out;
}

// A file of /work/shared/corpora (KENSA_CORPORA overrides), or nullopt when absent.
inline std::optional<std::string> ReadCorpusFile(std::string_view relative) {
  const char* env = std::getenv("KENSA_CORPORA");
  const std::filesystem::path root =
      env != nullptr ? std::filesystem::path(env)
                     : std::filesystem::path(KENSA_SOURCE_DIR).parent_path() / "shared/corpora";
  std::ifstream f(root / relative, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace kensa::scan::testing

#endif  // KENSA_SCAN_DECODER_TEST_SUPPORT_H_
