// SPDX-License-Identifier: GPL-2.0-or-later
// Compiling tens of thousands of literals takes Hyperscan seconds, so the compiled databases
// are kept on disk under the signature version: a restart or a reload of the same set reads
// them back instead. The cache file: "KENSAPF2\n", then for each database its pattern count,
// one class byte per pattern, and its hs_serialize_database() bytes (length-prefixed). A file
// that does not read back whole, or whose counts differ from this build's inputs, is rebuilt.
#include "scan/prefilter_database.h"

#include <hs/hs.h>

#include <atomic>
#include <chrono>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "scan/byte_record.h"
#include "scan/cache_file.h"

namespace kensa::scan {
namespace {

constexpr std::string_view kCacheMagic = "KENSAPF2\n";

// Duplicate literals (many signatures share one) are compiled once, speaking for every class
// any of them speaks for.
std::vector<PrefilterPattern> Dedupe(const std::vector<PrefilterPattern>& in) {
  absl::flat_hash_map<std::pair<std::string, bool>, size_t> index;
  std::vector<PrefilterPattern> out;
  for (const PrefilterPattern& p : in) {
    if (p.bytes.empty() || p.classes == 0) continue;
    auto [it, fresh] = index.try_emplace(std::pair{p.bytes, p.caseless}, out.size());
    if (fresh) {
      out.push_back(p);
    } else {
      out[it->second].classes |= p.classes;
    }
  }
  return out;
}

absl::StatusOr<hs_database_t*> CompileLiterals(const std::vector<PrefilterPattern>& patterns,
                                               std::vector<uint8_t>* classes) {
  classes->clear();
  if (patterns.empty()) return nullptr;
  std::vector<const char*> exprs;
  std::vector<size_t> lens;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < patterns.size(); ++i) {
    exprs.push_back(patterns[i].bytes.data());
    lens.push_back(patterns[i].bytes.size());
    flags.push_back(HS_FLAG_SINGLEMATCH | (patterns[i].caseless ? HS_FLAG_CASELESS : 0));
    ids.push_back(static_cast<unsigned>(i));
    classes->push_back(patterns[i].classes);
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_lit_multi(exprs.data(), flags.data(), ids.data(), lens.data(),
                           static_cast<unsigned>(exprs.size()), HS_MODE_STREAM, nullptr, &db,
                           &err) != HS_SUCCESS) {
    std::string what = err != nullptr && err->message != nullptr ? err->message : "unknown";
    const int at = err != nullptr ? err->expression : -1;
    hs_free_compile_error(err);
    return absl::InternalError(absl::StrCat("Hyperscan compile (literal ", at, "): ", what));
  }
  return db;
}

size_t DatabaseBytes(const hs_database_t* db) {
  size_t n = 0;
  if (db != nullptr) hs_database_size(db, &n);
  return n;
}

}  // namespace

uint8_t LayerClassOf(std::string_view type) {
  if (type == "CL_TYPE_BINARY_DATA") return kPlainBinary;
  if (type == "CL_TYPE_ZIP" || type == "CL_TYPE_OOXML_WORD" || type == "CL_TYPE_OOXML_XL" ||
      type == "CL_TYPE_OOXML_PPT") {
    return kPlainContainer;
  }
  // libclamav reads the UTF-16 types like the others (cli_scanscript over the same bytes); it
  // often types random binary data UTF-16 by its byte statistics.
  if (type == "CL_TYPE_TEXT_ASCII" || type == "CL_TYPE_TEXT_UTF8" ||
      type == "CL_TYPE_TEXT_UTF16LE" || type == "CL_TYPE_TEXT_UTF16BE") {
    return kPlainText;
  }
  if (type == "CL_TYPE_PDF") return kPlainPdf;
  // libclamav reads both with its MIME parser (cli_scanmail); a message that starts with
  // MIME-Version and Content-Type is typed MHTML.
  if (type == "CL_TYPE_MAIL" || type == "CL_TYPE_MHTML") return kPlainMail;
  if (type == "CL_TYPE_GRAPHICS" || type == "CL_TYPE_JPEG" || type == "CL_TYPE_PNG" ||
      type == "CL_TYPE_GIF") {
    return kPlainImage;
  }
  return 0;
}

absl::StatusOr<std::unique_ptr<const PrefilterDatabase>> PrefilterDatabase::Build(
    PrefilterInputs inputs, std::shared_ptr<const ClamEngine> probe, const std::string& cache_dir,
    const std::string& cache_key) {
  if (probe == nullptr) return absl::InvalidArgumentError("prefilter without a type probe");
  std::unique_ptr<PrefilterDatabase> db(new PrefilterDatabase());
  static std::atomic<uint64_t> next_serial{1};
  db->serial_ = next_serial.fetch_add(1);
  db->probe_ = std::move(probe);
  db->routed_classes_ = inputs.routed_classes;
  db->mail_reading_unpredictable_ = inputs.mail_reading_unpredictable;
  inputs.raw = Dedupe(inputs.raw);
  inputs.normalized = Dedupe(inputs.normalized);
  db->stats_.raw_patterns = inputs.raw.size();
  db->stats_.normalized_patterns = inputs.normalized.size();
  db->stats_.hash_signatures = inputs.hashes.size();
  db->stats_.routed_classes = inputs.routed_classes;

  const auto start = std::chrono::steady_clock::now();
  std::string path;
  if (!cache_dir.empty()) {
    path = absl::StrCat(cache_dir, "/prefilter-", cache_key, "-hs", HS_MAJOR, ".", HS_MINOR, ".",
                        HS_PATCH, ".cache");
    if (db->ReadCache(path).ok() && db->raw_classes_.size() == inputs.raw.size() &&
        db->normalized_classes_.size() == inputs.normalized.size()) {
      db->stats_.from_cache = true;
    } else {
      if (db->raw_ != nullptr) hs_free_database(db->raw_);
      if (db->normalized_ != nullptr) hs_free_database(db->normalized_);
      db->raw_ = db->normalized_ = nullptr;
    }
  }
  if (!db->stats_.from_cache) {
    if (absl::Status s = db->Compile(inputs); !s.ok()) return s;
    if (!path.empty()) {
      // A cache that cannot be written costs the next start a compile, nothing more.
      (void)db->WriteCache(path);
    }
  }
  // The classes travel with the inputs, not the cache: the cache only holds their order.
  for (size_t i = 0; i < inputs.raw.size(); ++i) db->raw_classes_[i] = inputs.raw[i].classes;
  for (size_t i = 0; i < inputs.normalized.size(); ++i) {
    db->normalized_classes_[i] = inputs.normalized[i].classes;
  }
  db->hashes_ = std::move(inputs.hashes);
  if (!inputs.file_types.empty()) {
    // Without the table the prefilter still works, with the probe for every object.
    absl::StatusOr<std::unique_ptr<const FileTypeTable>> types =
        FileTypeTable::Build(inputs.file_types);
    if (types.ok()) {
      db->file_types_ = *std::move(types);
      db->stats_.file_type_entries =
          db->file_types_->magic_count() + db->file_types_->pattern_count();
    } else {
      db->stats_.file_types_error = std::string(types.status().message());
    }
  }
  db->stats_.compile_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  db->stats_.database_bytes =
      DatabaseBytes(db->raw_) + DatabaseBytes(db->normalized_) +
      (db->file_types_ != nullptr ? DatabaseBytes(db->file_types_->patterns()) : 0);
  return std::unique_ptr<const PrefilterDatabase>(std::move(db));
}

PrefilterDatabase::~PrefilterDatabase() {
  if (raw_ != nullptr) hs_free_database(raw_);
  if (normalized_ != nullptr) hs_free_database(normalized_);
}

absl::Status PrefilterDatabase::Compile(const PrefilterInputs& inputs) {
  absl::StatusOr<hs_database_t*> raw = CompileLiterals(inputs.raw, &raw_classes_);
  if (!raw.ok()) return raw.status();
  raw_ = *raw;
  absl::StatusOr<hs_database_t*> norm = CompileLiterals(inputs.normalized, &normalized_classes_);
  if (!norm.ok()) return norm.status();
  normalized_ = *norm;
  return absl::OkStatus();
}

absl::Status PrefilterDatabase::WriteCache(const std::string& path) const {
  std::string out(kCacheMagic);
  for (auto [db, classes] :
       {std::pair{raw_, &raw_classes_}, std::pair{normalized_, &normalized_classes_}}) {
    PutU64(&out, classes->size());
    char* bytes = nullptr;
    size_t length = 0;
    if (db != nullptr && hs_serialize_database(db, &bytes, &length) != HS_SUCCESS) {
      return absl::InternalError("hs_serialize_database failed");
    }
    PutU64(&out, length);
    out.append(bytes, length);
    free(bytes);
  }
  return WriteCacheFile(path, out);
}

absl::Status PrefilterDatabase::ReadCache(const std::string& path) {
  absl::StatusOr<std::string> data = ReadCacheFile(path);
  if (!data.ok()) return data.status();
  std::string_view in(*data);
  if (in.substr(0, kCacheMagic.size()) != kCacheMagic) return absl::DataLossError(path);
  in.remove_prefix(kCacheMagic.size());
  for (auto [db, classes] :
       {std::pair{&raw_, &raw_classes_}, std::pair{&normalized_, &normalized_classes_}}) {
    uint64_t count = 0, length = 0;
    if (!GetU64(&in, &count) || !GetU64(&in, &length) || in.size() < length ||
        (count > 0) != (length > 0)) {
      return absl::DataLossError(path);
    }
    classes->assign(count, 0);
    if (length > 0 && hs_deserialize_database(in.data(), length, db) != HS_SUCCESS) {
      return absl::DataLossError(path);
    }
    in.remove_prefix(length);
  }
  return absl::OkStatus();
}

}  // namespace kensa::scan
