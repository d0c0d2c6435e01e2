// SPDX-License-Identifier: GPL-2.0-or-later
// Base64 (RFC 2045 6.8) as mail clients decode it, streaming.
//
// Tolerance, chosen so libclamav sees every byte a client could extract:
// - Whitespace and every character outside the alphabet are skipped (as Python's
//   b64decode(validate=False), Thunderbird and Outlook do).
// - '=' after two or three characters of a quantum ends that quantum: its one or two bytes are
//   emitted and decoding goes on with a fresh quantum at the next alphabet character. Further
//   '=' and an '=' after zero or one characters are skipped. So concatenated base64 blocks
//   ("QUI=QUJD") decode to both blocks, as Thunderbird decodes them (Python would stop at the
//   first padding); on input whose padding is only at the end the result is Python's.
// - At the end of the stream two or three leftover characters still yield their one or two
//   bytes (missing padding); a single leftover character carries no whole byte and is dropped.
#include "scan/base64_decoder.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace kensa::scan::base64 {
namespace {

constexpr unsigned char kNotAlphabet = 0xff;
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr auto MakeSextetTable() {
  std::array<unsigned char, 256> t{};
  for (auto& v : t) v = kNotAlphabet;
  for (size_t i = 0; i < kAlphabet.size(); ++i) t[static_cast<unsigned char>(kAlphabet[i])] = i;
  return t;
}
constexpr auto kSextetArray = MakeSextetTable();

size_t ScalarFilter(const char* in, size_t n, char* dst, size_t* written) {
  size_t w = 0;
  size_t i = 0;
  for (; i < n; ++i) {
    const char c = in[i];
    if (c == '=') break;
    dst[w] = c;  // Written always, kept only for alphabet characters: no branch to mispredict.
    w += kSextetArray[static_cast<unsigned char>(c)] != kNotAlphabet;
  }
  *written = w;
  return i;
}

void ScalarDecode(const char* in, size_t n, char* dst) {
  const auto* s = reinterpret_cast<const unsigned char*>(in);
  for (size_t i = 0; i < n; i += 4, dst += 3) {
    const uint32_t v = (uint32_t{kSextetArray[s[i]]} << 18) | (uint32_t{kSextetArray[s[i + 1]]} << 12) |
                       (uint32_t{kSextetArray[s[i + 2]]} << 6) | kSextetArray[s[i + 3]];
    dst[0] = static_cast<char>(v >> 16);
    dst[1] = static_cast<char>(v >> 8);
    dst[2] = static_cast<char>(v);
  }
}

constexpr Kernels kScalar{"scalar", ScalarFilter, ScalarDecode};

class Decoder final : public StreamDecoder {
 public:
  explicit Decoder(const Kernels& k) : k_(k), chars_(kQuantum + kChunk + kKernelSlack, '\0') {}

  void Feed(std::string_view in, std::string* out) override {
    while (!in.empty()) {
      const size_t take = std::min(in.size(), kChunk);
      std::memcpy(chars_.data(), pending_, npending_);
      size_t written = 0;
      const size_t used = k_.filter(in.data(), take, chars_.data() + npending_, &written);
      const size_t total = npending_ + written;
      const size_t whole = total / 4 * 4;
      AppendDecoded(chars_.data(), whole, out);
      npending_ = total - whole;
      std::memcpy(pending_, chars_.data() + whole, npending_);
      in.remove_prefix(used);
      if (used < take) {  // The filter stopped at '='.
        EndQuantum(out);
        in.remove_prefix(1);
      }
    }
  }

  void Finish(std::string* out) override {
    EndQuantum(out);
    npending_ = 0;
  }

 private:
  static constexpr size_t kQuantum = 4;
  // Input bytes filtered per step: bounds the scratch buffer, large enough that the per-step
  // work is noise.
  static constexpr size_t kChunk = 16 * 1024;

  void AppendDecoded(const char* chars, size_t n, std::string* out) {
    if (n == 0) return;
    const size_t old = out->size();
    const size_t bytes = n / 4 * 3;
    out->resize(old + bytes + kKernelSlack);
    k_.decode(chars, n, out->data() + old);
    out->resize(old + bytes);
  }

  // A padded or final quantum: two characters give one byte, three give two.
  void EndQuantum(std::string* out) {
    if (npending_ < 2) return;  // '=' this early pads nothing; the quantum goes on.
    char quad[4] = {'A', 'A', 'A', 'A'};
    std::memcpy(quad, pending_, npending_);
    char bytes[3];
    ScalarDecode(quad, 4, bytes);
    out->append(bytes, npending_ - 1);
    npending_ = 0;
  }

  const Kernels& k_;
  char pending_[kQuantum] = {};
  size_t npending_ = 0;
  std::string chars_;
};

}  // namespace

const Kernels& ScalarKernels() { return kScalar; }

const Kernels& BestKernels() {
  static const Kernels& best = Avx2Kernels() != nullptr ? *Avx2Kernels() : kScalar;
  return best;
}

std::unique_ptr<StreamDecoder> NewDecoder(const Kernels& kernels) {
  return std::make_unique<Decoder>(kernels);
}

}  // namespace kensa::scan::base64

namespace kensa::scan {

std::string DecodeBase64(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3 + 3);
  auto d = base64::NewDecoder(base64::BestKernels());
  d->Feed(in, &out);
  d->Finish(&out);
  return out;
}

std::string EncodeBase64(std::string_view in, size_t line_length, std::string_view eol) {
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string chars;
  chars.reserve((in.size() + 2) / 3 * 4);
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t{s[i]} << 16) | (uint32_t{s[i + 1]} << 8) | s[i + 2];
    chars += kAlphabet[v >> 18];
    chars += kAlphabet[(v >> 12) & 63];
    chars += kAlphabet[(v >> 6) & 63];
    chars += kAlphabet[v & 63];
  }
  if (const size_t rest = in.size() - i; rest > 0) {
    const uint32_t v = (uint32_t{s[i]} << 16) | (rest == 2 ? uint32_t{s[i + 1]} << 8 : 0);
    chars += kAlphabet[v >> 18];
    chars += kAlphabet[(v >> 12) & 63];
    chars += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    chars += '=';
  }
  // line_length 0: one line without a line break; otherwise every line, the last included,
  // ends in eol, as MIME bodies do.
  if (line_length == 0) return chars;
  std::string out;
  out.reserve(chars.size() + (chars.size() / line_length + 1) * eol.size());
  for (size_t pos = 0; pos < chars.size(); pos += line_length) {
    out.append(chars, pos, line_length);
    out.append(eol);
  }
  return out;
}

}  // namespace kensa::scan
