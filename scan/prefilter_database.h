// SPDX-License-Identifier: GPL-2.0-or-later
// PrefilterDatabase: what the prefilter needs from one signature set, compiled — two Hyperscan
// streaming literal databases (one for the bytes as they are, one for libclamav's normalised
// text), the hash signatures, the object classes that must always go to the engine, and the
// type probe. Immutable once built; it lives in the SignatureSet and is swapped with it.
//
// A layer libclamav scans as plain bytes is one of these classes: binary data (only target
// type 0 signatures apply), an image (0 and 5), text (0 and 7, also on the normalised text),
// a zip or OOXML container (0), a mail message (0 and 4) or a PDF (0 and 10); the last three
// also have layers of their own (members, extracted parts and objects), which the probe shows.
// Every signature that applies to a class contributes literals one of which any match of it
// must contain; a signature without such literals "routes" its classes: they always go to the
// engine.
#ifndef KENSA_SCAN_PREFILTER_DATABASE_H_
#define KENSA_SCAN_PREFILTER_DATABASE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "scan/clam_engine.h"
#include "scan/file_type_table.h"
#include "scan/hash_signature_set.h"

struct hs_database;

namespace kensa::scan {

enum PlainClass : uint8_t {
  kPlainBinary = 1,
  kPlainImage = 2,
  kPlainText = 4,
  kPlainContainer = 8,  // zip and OOXML: matched like binary data, members are layers
  // A mail message as libclamav reads it (CL_TYPE_MAIL): its own bytes are matched with the
  // signatures of target types 0 and 4, and every part its MIME parser extracts is a layer.
  kPlainMail = 32,
  // A PDF (CL_TYPE_PDF): its own bytes are matched with the signatures of target types 0 and 10;
  // every object libclamav's PDF parser extracts (decoded streams, strings, normalised page
  // contents) is a layer of its own.
  kPlainPdf = 128,
  kAllPlainClasses =
      kPlainBinary | kPlainImage | kPlainText | kPlainContainer | kPlainMail | kPlainPdf,
  // Not a class: the literal is one of libclamav's file-type triggers (HTML, PDF found
  // anywhere in a layer), after which libclamav normalises or parses the layer in ways the
  // probe is not shown. A layer holding one is never cleared.
  kTypeTrigger = 16,
  // Not a class: mail headers, after which libclamav reads a layer as mail. A mail layer holds
  // them by nature (they are why it is one); any other layer holding one is never cleared.
  kMailTrigger = 64,
};

// The class of a layer of libclamav type `clamav_type`, as the probe shows it; 0 when libclamav
// does more with such a layer than match signatures against its bytes and unpack members the
// probe shows too. Zip and OOXML containers are their own class: libclamav matches only target
// type 0 signatures against their own bytes, and every member is a layer of its own (container
// metadata signatures, .cdb, route this class).
uint8_t LayerClassOf(std::string_view clamav_type);

struct PrefilterPattern {
  std::string bytes;
  bool caseless = false;
  uint8_t classes = 0;  // PlainClass bits this literal speaks for
};

struct PrefilterInputs {
  std::vector<PrefilterPattern> raw;         // matched on the object's bytes
  std::vector<PrefilterPattern> normalized;  // matched on its normalised text (text class)
  HashSignatureSet hashes;
  uint8_t routed_classes = 0;  // always to the engine
  // libclamav's reading of a message cannot be predicted from the parts' (scan/
  // mail_reading_prediction.h) with this set: a logical signature looks at where a layer sits
  // (Container:CL_TYPE_MAIL, CL_TYPE_MHTML or CL_TYPE_ANY, or Intermediates), so a part scanned
  // on its own may be judged otherwise than inside the message; or a file-type entry of the
  // set's own could type or unpack text that is plain to libclamav's built-in table.
  bool mail_reading_unpredictable = false;
  // libclamav's file-type entries as the engine has them (its built-in table and the set's own
  // .ftm lines): with them an object that none types is known to be plain text or binary
  // data without asking libclamav (scan/plain_typing.h). Empty: every object needs the probe.
  std::vector<std::string> file_types;
};

struct PrefilterStats {
  size_t raw_patterns = 0, normalized_patterns = 0, hash_signatures = 0;
  uint8_t routed_classes = 0;
  bool from_cache = false;
  double compile_seconds = 0;
  size_t database_bytes = 0;     // Hyperscan databases
  size_t file_type_entries = 0;  // kind 0 and 1 entries in the file-type table
  std::string file_types_error;  // why there is no file-type table (none: every object probed)
};

class PrefilterDatabase {
 public:
  // Compiles `inputs` (or reads the compiled databases from `cache_dir`/<cache_key>, written
  // after a compile; empty cache_dir: no cache). `probe` is the set's type probe.
  static absl::StatusOr<std::unique_ptr<const PrefilterDatabase>> Build(
      PrefilterInputs inputs, std::shared_ptr<const ClamEngine> probe, const std::string& cache_dir,
      const std::string& cache_key);
  ~PrefilterDatabase();
  PrefilterDatabase(const PrefilterDatabase&) = delete;
  PrefilterDatabase& operator=(const PrefilterDatabase&) = delete;

  const hs_database* raw() const { return raw_; }
  const hs_database* normalized() const { return normalized_; }
  uint8_t raw_classes(unsigned id) const { return raw_classes_[id]; }
  uint8_t normalized_classes(unsigned id) const { return normalized_classes_[id]; }
  const HashSignatureSet& hashes() const { return hashes_; }
  uint8_t routed_classes() const { return routed_classes_; }
  bool mail_reading_unpredictable() const { return mail_reading_unpredictable_; }
  // libclamav's file types, for typing an object without the probe; null when the set's could
  // not be read (then every object is probed).
  const FileTypeTable* file_types() const { return file_types_.get(); }
  const ClamEngine& probe() const { return *probe_; }
  const PrefilterStats& stats() const { return stats_; }
  // Unique per database built in this process (never 0): what a thread's Hyperscan scratch was
  // sized for.
  uint64_t serial() const { return serial_; }

 private:
  PrefilterDatabase() = default;
  absl::Status Compile(const PrefilterInputs& inputs);
  absl::Status ReadCache(const std::string& path);
  absl::Status WriteCache(const std::string& path) const;

  hs_database* raw_ = nullptr;
  hs_database* normalized_ = nullptr;
  std::vector<uint8_t> raw_classes_, normalized_classes_;
  HashSignatureSet hashes_;
  uint8_t routed_classes_ = 0;
  bool mail_reading_unpredictable_ = false;
  std::unique_ptr<const FileTypeTable> file_types_;
  std::shared_ptr<const ClamEngine> probe_;
  PrefilterStats stats_;
  uint64_t serial_ = 0;
};

}  // namespace kensa::scan

#endif  // KENSA_SCAN_PREFILTER_DATABASE_H_
