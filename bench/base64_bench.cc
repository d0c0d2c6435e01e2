// SPDX-License-Identifier: GPL-2.0-or-later
// kensa-base64-bench: base64 decode throughput on a mail-shaped body (76 columns, CRLF), per
// kernel, counted in encoded bytes per second.
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "scan/base64_decoder.h"
#include "scan/transfer_encoding.h"

namespace {

using kensa::scan::StreamDecoder;
namespace base64 = kensa::scan::base64;

const std::string& EncodedBody() {
  static const std::string body = [] {
    std::mt19937 rng(42);
    std::string raw(4 << 20, '\0');
    for (char& c : raw) c = static_cast<char>(rng());
    return kensa::scan::EncodeBase64(raw, 76, "\r\n");
  }();
  return body;
}

void Decode(benchmark::State& state, const base64::Kernels* kernels) {
  if (kernels == nullptr) {
    state.SkipWithError("this CPU lacks the kernel's instructions");
    return;
  }
  const std::string& in = EncodedBody();
  // Fed in 64 KiB pieces, as the MIME parser hands a part's body over.
  const size_t piece = 64 * 1024;
  std::string out;
  out.reserve(in.size());
  for (auto _ : state) {
    out.clear();
    auto d = base64::NewDecoder(*kernels);
    for (size_t i = 0; i < in.size(); i += piece) d->Feed(std::string_view(in).substr(i, piece), &out);
    d->Finish(&out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(in.size()));
}

BENCHMARK_CAPTURE(Decode, scalar, &base64::ScalarKernels());
BENCHMARK_CAPTURE(Decode, avx2, base64::Avx2Kernels());

void Encode(benchmark::State& state) {
  const std::string raw(1 << 20, 'x');
  for (auto _ : state) benchmark::DoNotOptimize(kensa::scan::EncodeBase64(raw));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(raw.size()));
}
BENCHMARK(Encode);

}  // namespace

BENCHMARK_MAIN();
