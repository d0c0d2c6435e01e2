// SPDX-License-Identifier: GPL-2.0-or-later
// decoders_fuzz: every transfer decoder must give the same bytes whatever the Feed() split,
// and the base64 kernels must agree. Input: byte 0 caps the piece size, byte 1 seeds the
// split; the rest is the encoded text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "scan/base64_decoder.h"
#include "scan/quoted_printable_decoder.h"
#include "scan/transfer_encoding.h"
#include "scan/uuencode_extractor.h"

namespace {

using kensa::scan::StreamDecoder;

void Check(bool ok) {
  if (!ok) std::abort();
}

std::vector<std::string_view> Split(std::string_view in, size_t max_piece, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string_view> pieces;
  while (!in.empty()) {
    const size_t n = std::min<size_t>(in.size(), rng() % (max_piece + 1));
    pieces.push_back(in.substr(0, n));
    in.remove_prefix(n);
  }
  return pieces;
}

std::string Run(StreamDecoder& d, const std::vector<std::string_view>& pieces) {
  std::string out;
  for (std::string_view p : pieces) d.Feed(p, &out);
  d.Finish(&out);
  return out;
}

template <typename Make>
void CheckSplitInvariant(Make make, std::string_view in, const std::vector<std::string_view>& pieces) {
  auto whole = make();
  auto split = make();
  const std::string a = Run(*whole, {in});
  Check(a == Run(*split, pieces));
  // Bounded output: only uuencode expands, a short line padded to at most 63 bytes.
  Check(a.size() <= 32 * in.size() + 64);
}

class Record : public kensa::scan::UuencodeExtractor::Sink {
 public:
  void OnFileBegin(std::string_view name) override {
    Check(!open_);
    open_ = true;
    log += "B" + std::string(name) + '\n';
  }
  void OnFileData(std::string_view decoded) override {
    Check(open_);
    log += decoded;
  }
  void OnFileEnd() override {
    Check(open_);
    open_ = false;
    log += "\nE\n";
  }
  std::string log;

 private:
  bool open_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t max_piece = 1 + data[0] % 64;
  const uint32_t seed = data[1];
  const std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  const auto pieces = Split(in, max_piece, seed);

  namespace base64 = kensa::scan::base64;
  CheckSplitInvariant([] { return base64::NewDecoder(base64::ScalarKernels()); }, in, pieces);
  if (const base64::Kernels* avx2 = base64::Avx2Kernels()) {
    CheckSplitInvariant([avx2] { return base64::NewDecoder(*avx2); }, in, pieces);
    auto scalar = base64::NewDecoder(base64::ScalarKernels());
    auto vector = base64::NewDecoder(*avx2);
    Check(Run(*scalar, {in}) == Run(*vector, {in}));
  }
  const kensa::scan::quoted_printable::Limits qp{.max_held_whitespace = size_t{1} + data[1] % 16};
  CheckSplitInvariant([&] { return kensa::scan::quoted_printable::NewDecoder(qp); }, in, pieces);
  const kensa::scan::uuencode::Limits uu{.max_line_bytes = size_t{16} + data[1] % 128};
  CheckSplitInvariant([&] { return kensa::scan::uuencode::NewDecoder(uu); }, in, pieces);
  CheckSplitInvariant([] { return kensa::scan::NewStreamDecoder(kensa::scan::TransferEncoding::kIdentity); }, in,
                      pieces);

  Record whole;
  Record split;
  kensa::scan::UuencodeExtractor a(&whole, uu.max_line_bytes);
  kensa::scan::UuencodeExtractor b(&split, uu.max_line_bytes);
  a.Feed(in);
  a.Finish();
  for (std::string_view p : pieces) b.Feed(p);
  b.Finish();
  Check(whole.log == split.log);
  return 0;
}
