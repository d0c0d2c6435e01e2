// SPDX-License-Identifier: GPL-2.0-or-later
#include "sigs/prefilter_inputs_cache.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "scan/byte_record.h"
#include "scan/cache_file.h"

namespace kensa::sigs {
namespace {

namespace fs = std::filesystem;
using scan::GetString;
using scan::GetU64;
using scan::PutString;
using scan::PutU64;

constexpr std::string_view kMagic = "KENSA-PREFILTER-INPUTS-2\n";

void PutPatterns(std::string* out, const std::vector<scan::PrefilterPattern>& patterns) {
  PutU64(out, patterns.size());
  for (const scan::PrefilterPattern& p : patterns) {
    PutString(out, p.bytes);
    out->push_back(p.caseless ? 1 : 0);
    out->push_back(static_cast<char>(p.classes));
  }
}

bool GetPatterns(std::string_view* in, std::vector<scan::PrefilterPattern>* patterns) {
  uint64_t n = 0;
  if (!GetU64(in, &n) || n > in->size() / 10) return false;  // each takes at least 10 bytes
  patterns->resize(n);
  for (scan::PrefilterPattern& p : *patterns) {
    if (!GetString(in, &p.bytes) || in->size() < 2) return false;
    p.caseless = (*in)[0] != 0;
    p.classes = static_cast<uint8_t>((*in)[1]);
    in->remove_prefix(2);
  }
  return true;
}

absl::Status Corrupt(const std::string& path) {
  return absl::DataLossError(absl::StrCat(path, ": not a prefilter inputs cache"));
}

}  // namespace

absl::Status WritePrefilterInputsCache(const std::string& path, const PrefilterDerivation& d) {
  std::string out(kMagic);
  for (size_t n : {d.body_signatures, d.logical_signatures, d.hash_signatures, d.without_literal}) {
    PutU64(&out, n);
  }
  PutU64(&out, d.routing_examples.size());
  for (const std::string& e : d.routing_examples) PutString(&out, e);
  out.push_back(static_cast<char>(d.inputs.routed_classes));
  out.push_back(d.inputs.mail_reading_unpredictable ? 1 : 0);
  PutPatterns(&out, d.inputs.raw);
  PutPatterns(&out, d.inputs.normalized);
  d.inputs.hashes.AppendTo(&out);
  std::vector<std::pair<std::string, std::string>> probe_files;
  if (!d.probe_dir.empty()) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d.probe_dir, ec)) {
      std::ifstream f(e.path(), std::ios::binary);
      std::ostringstream content;
      content << f.rdbuf();
      if (!f) return absl::InternalError(absl::StrCat("cannot read ", e.path().string()));
      probe_files.emplace_back(e.path().filename().string(), content.str());
    }
    if (ec) return absl::InternalError(absl::StrCat("cannot list ", d.probe_dir));
  }
  PutU64(&out, probe_files.size());
  for (const auto& [name, content] : probe_files) {
    PutString(&out, name);
    PutString(&out, content);
  }
  return scan::WriteCacheFile(path, out);
}

absl::StatusOr<PrefilterDerivation> ReadPrefilterInputsCache(const std::string& path,
                                                             const std::string& work_dir) {
  absl::StatusOr<std::string> bytes = scan::ReadCacheFile(path);
  if (!bytes.ok()) return bytes.status();
  std::string_view in(*bytes);
  if (in.substr(0, kMagic.size()) != kMagic) return Corrupt(path);
  in.remove_prefix(kMagic.size());
  PrefilterDerivation d;
  uint64_t counts[4];
  for (uint64_t& n : counts) {
    if (!GetU64(&in, &n)) return Corrupt(path);
  }
  d.body_signatures = counts[0];
  d.logical_signatures = counts[1];
  d.hash_signatures = counts[2];
  d.without_literal = counts[3];
  uint64_t examples = 0;
  if (!GetU64(&in, &examples) || examples > in.size() / 8) return Corrupt(path);
  d.routing_examples.resize(examples);
  for (std::string& e : d.routing_examples) {
    if (!GetString(&in, &e)) return Corrupt(path);
  }
  if (in.size() < 2) return Corrupt(path);
  d.inputs.routed_classes = static_cast<uint8_t>(in[0]);
  d.inputs.mail_reading_unpredictable = in[1] != 0;
  in.remove_prefix(2);
  if (!GetPatterns(&in, &d.inputs.raw) || !GetPatterns(&in, &d.inputs.normalized)) {
    return Corrupt(path);
  }
  absl::StatusOr<scan::HashSignatureSet> hashes = scan::HashSignatureSet::Read(&in);
  if (!hashes.ok()) return Corrupt(path);
  d.inputs.hashes = *std::move(hashes);
  uint64_t files = 0;
  if (!GetU64(&in, &files) || files > in.size() / 16) return Corrupt(path);
  std::vector<std::pair<std::string, std::string>> probe_files(files);
  for (auto& [name, data] : probe_files) {
    if (!GetString(&in, &name) || !GetString(&in, &data)) return Corrupt(path);
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      return Corrupt(path);
    }
  }
  if (!in.empty()) return Corrupt(path);
  if (!probe_files.empty()) {
    const fs::path probe = fs::path(work_dir) / "probe";
    std::error_code ec;
    fs::create_directories(probe, ec);
    if (ec) return absl::InternalError(absl::StrCat("mkdir ", probe.string(), ": ", ec.message()));
    for (const auto& [name, data] : probe_files) {
      std::ofstream o(probe / name, std::ios::binary | std::ios::trunc);
      o.write(data.data(), static_cast<std::streamsize>(data.size()));
      if (!o.flush()) {
        return absl::InternalError(absl::StrCat("cannot write ", (probe / name).string()));
      }
    }
    d.probe_dir = probe.string();
  }
  return d;
}

}  // namespace kensa::sigs
