// SPDX-License-Identifier: GPL-2.0-or-later
#include "sigs/prefilter_spec.h"

#include <clamav.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/text_fields.h"
#include "sigs/file_type_triggers.h"
#include "sigs/hex_signature.h"
#include "sigs/logical_expression.h"

namespace kensa::sigs {
namespace {

namespace fs = std::filesystem;
using scan::kAllPlainClasses;
using scan::kPlainImage;
using scan::kPlainText;

// The plain classes a signature of this target type applies to (0: none of them).
uint8_t ClassesOfTarget(int target) {
  switch (target) {
    case 0: return kAllPlainClasses;
    case 5: return kPlainImage;
    case 7: return kPlainText;
    // Mail signatures apply to mail, and to a text layer in which libclamav finds mail headers.
    case 4: return kPlainText | scan::kPlainMail;
    case 10: return scan::kPlainPdf;
    default: return 0;
  }
}

// The form a literal must take to occur in libclamav's normalised text, or nullopt when it
// cannot occur there at all (uppercase, control bytes, bytes above 0x7f, two spaces in a row).
std::optional<std::string> NormalizedForm(const Literal& l) {
  std::string out = l.caseless ? absl::AsciiStrToLower(l.bytes) : l.bytes;
  for (size_t i = 0; i < out.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(out[i]);
    if (c < 0x20 || c >= 0x80 || (c >= 'A' && c <= 'Z')) return std::nullopt;
    if (c == ' ' && i > 0 && out[i - 1] == ' ') return std::nullopt;
  }
  return out;
}

class Deriver {
 public:
  explicit Deriver(PrefilterDerivation* out) : out_(out) {}

  absl::Status ReadDir(const fs::path& dir, const fs::path& work, int depth);
  // A file-type trigger (file_type_triggers.h): its literals, or every class routed.
  void AddTrigger(const fs::path& file, std::string_view hex, bool mail);

 private:
  absl::Status ReadFile(const fs::path& file, const fs::path& work, int depth);
  void Route(uint8_t classes, const fs::path& file, std::string_view name, std::string_view why);
  // One signature: its subsignatures' literal sets (nullopt: none) and its expression.
  void AddSignature(const fs::path& file, std::string_view name, uint8_t classes,
                    const std::vector<std::optional<RequiredLiterals>>& subs,
                    std::string_view expression);
  void BodyLine(const fs::path& file, std::string_view line, bool old_format);
  void LogicalLine(const fs::path& file, std::string_view line);
  void HashLine(std::string_view line);

  PrefilterDerivation* out_;
  int probe_files_ = 0;
};

void Deriver::Route(uint8_t classes, const fs::path& file, std::string_view name,
                    std::string_view why) {
  out_->inputs.routed_classes |= classes;
  ++out_->without_literal;
  if (out_->routing_examples.size() < 10) {
    out_->routing_examples.push_back(
        absl::StrCat(file.filename().string(), ": ", std::string(name), " (", std::string(why), ")"));
  }
}

void Deriver::AddSignature(const fs::path& file, std::string_view name, uint8_t classes,
                           const std::vector<std::optional<RequiredLiterals>>& subs,
                           std::string_view expression) {
  if (classes == 0) return;
  std::vector<bool> known_zero;
  for (const auto& s : subs) known_zero.push_back(s.has_value());
  absl::StatusOr<bool> can = ExpressionCanBeTrue(expression, known_zero);
  if (!can.ok()) return Route(classes, file, name, std::string(can.status().message()));
  if (*can) return Route(classes, file, name, "no required literal");
  // Only the subsignatures the expression cannot do without need to be looked for: drop, worst
  // literal first, every one whose absence still leaves the expression false without it ("0&1"
  // needs only the better of 0 and 1; "0|1" needs both). A short literal that occurs by chance
  // then no longer sends objects to the engine for a signature it cannot complete.
  std::vector<size_t> order;
  for (size_t i = 0; i < subs.size(); ++i) {
    if (subs[i]) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return subs[a]->shortest() < subs[b]->shortest();
  });
  std::vector<bool> needed = known_zero;
  for (size_t i : order) {
    needed[i] = false;
    absl::StatusOr<bool> still = ExpressionCanBeTrue(expression, needed);
    if (!still.ok() || *still) needed[i] = true;  // the expression needs it after all
  }
  for (size_t i = 0; i < subs.size(); ++i) {
    const auto& s = subs[i];
    if (!s || !needed[i]) continue;
    for (const Literal& l : s->any_of) {
      out_->inputs.raw.push_back({l.bytes, l.caseless, classes});
      if (classes & (kPlainText | scan::kPlainMail)) {
        if (std::optional<std::string> norm = NormalizedForm(l)) {
          out_->inputs.normalized.push_back({*std::move(norm), false, kPlainText});
        }
      }
    }
  }
}

void Deriver::AddTrigger(const fs::path& file, std::string_view hex, bool mail) {
  absl::StatusOr<std::optional<RequiredLiterals>> lits = ExtractRequiredLiterals(hex);
  if (!lits.ok() || !lits->has_value()) {
    // A trigger the prefilter cannot look for: no layer can be shown to be free of it.
    return Route(kAllPlainClasses, file, "file type trigger", std::string(hex));
  }
  for (const Literal& l : (*lits)->any_of) {
    out_->inputs.raw.push_back({l.bytes, l.caseless, mail ? scan::kMailTrigger : scan::kTypeTrigger});
  }
}

void Deriver::BodyLine(const fs::path& file, std::string_view line, bool old_format) {
  std::string_view name, hex;
  int target = 0;
  if (old_format) {  // Name=HexSignature
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return;
    name = line.substr(0, eq);
    hex = line.substr(eq + 1);
  } else {  // Name:TargetType:Offset:HexSignature[:MinFL[:MaxFL]]
    std::vector<std::string_view> f = SplitFields(line, ':');
    if (f.size() < 4) return;
    name = f[0];
    if (!ParseNumber(f[1], &target)) return Route(kAllPlainClasses, file, name, "target");
    hex = f[3];
  }
  ++out_->body_signatures;
  const uint8_t classes = ClassesOfTarget(target);
  if (classes == 0) return;
  absl::StatusOr<std::optional<RequiredLiterals>> lits = ExtractRequiredLiterals(hex);
  if (!lits.ok()) return Route(classes, file, name, std::string(lits.status().message()));
  AddSignature(file, name, classes, {*lits}, "0");
}

void Deriver::LogicalLine(const fs::path& file, std::string_view line) {
  // Name;TargetDescriptionBlock;LogicalExpression;Subsig0;Subsig1;...
  std::vector<std::string_view> f = SplitFields(line, ';');
  if (f.size() < 4) return;
  ++out_->logical_signatures;
  int target = 0;
  for (std::string_view attr : SplitFields(f[1], ',')) {
    // libclamav compares Container with the layer's parent: a message for a part in its
    // reading of the message, none (CL_TYPE_ANY) for the same part scanned on its own.
    if (attr.substr(0, 14) == "Intermediates:" || attr == "Container:CL_TYPE_MAIL" ||
        attr == "Container:CL_TYPE_MHTML" || attr == "Container:CL_TYPE_ANY") {
      out_->inputs.mail_reading_unpredictable = true;
    }
    if ((attr.substr(0, 7) == "Target:" && (attr.remove_prefix(7), true)) && !ParseNumber(attr, &target)) {
      return Route(kAllPlainClasses, file, f[0], "target");
    }
  }
  const uint8_t classes = ClassesOfTarget(target);
  if (classes == 0) return;
  std::vector<std::optional<RequiredLiterals>> subs;
  for (size_t i = 3; i < f.size(); ++i) {
    absl::StatusOr<std::optional<RequiredLiterals>> lits = ExtractSubsignatureLiterals(f[i]);
    subs.push_back(lits.ok() ? *std::move(lits) : std::nullopt);
  }
  AddSignature(file, f[0], classes, subs, f[2]);
}

void Deriver::HashLine(std::string_view line) {
  // HashString:FileSize:MalwareName[:MinFL[:MaxFL]]; the size may be '*' (any size).
  std::vector<std::string_view> f = SplitFields(line, ':');
  if (f.size() < 3) return;
  std::optional<std::string> digest = HexToBytes(f[0]);
  if (!digest) return;
  scan::HashKind kind;
  switch (digest->size()) {
    case 16: kind = scan::HashKind::kMd5; break;
    case 20: kind = scan::HashKind::kSha1; break;
    case 32: kind = scan::HashKind::kSha256; break;
    default: return;
  }
  std::optional<uint64_t> size;
  if (f[1] != "*") {
    uint64_t n = 0;
    if (!ParseNumber(f[1], &n)) return;
    size = n;
  }
  out_->inputs.hashes.Add(kind, size, *digest);
  ++out_->hash_signatures;
}

absl::Status Deriver::ReadFile(const fs::path& file, const fs::path& work, int depth) {
  const std::string ext = absl::AsciiStrToLower(file.extension().string());
  if (ext == ".cvd" || ext == ".cld" || ext == ".cud") {
    if (depth > 0) return absl::OkStatus();
    const fs::path into = work / absl::StrCat("unpacked-", file.filename().string());
    std::error_code ec;
    fs::create_directories(into, ec);
    if (cl_error_t rc = cl_cvdunpack(file.c_str(), into.c_str(), true); rc != CL_SUCCESS) {
      // What it holds cannot be read here, but libclamav loads it: nothing is ruled out.
      Route(kAllPlainClasses, file, "*", absl::StrCat("cannot unpack: ", cl_strerror(rc)));
      return absl::OkStatus();
    }
    return ReadDir(into, work, depth + 1);
  }
  if (ext == ".ftm") {
    std::ifstream in(file, std::ios::binary);
    std::string line, hex;
    while (std::getline(in, line)) {
      bool mail = false;
      if (FileTypeTriggerOfFtmLine(StripWhitespace(line), &hex, &mail)) AddTrigger(file, hex, mail);
      if (FtmLineMayReadText(StripWhitespace(line))) out_->inputs.mail_reading_unpredictable = true;
    }
  }
  if (ext == ".ftm" || ext == ".cfg") {
    const fs::path probe = work / "probe";
    std::error_code ec;
    fs::create_directories(probe, ec);
    fs::copy_file(file, probe / absl::StrCat(probe_files_++, "-", file.filename().string()),
                  fs::copy_options::overwrite_existing, ec);
    if (ec) return absl::InternalError(absl::StrCat("copying ", file.string(), ": ", ec.message()));
    out_->probe_dir = probe.string();
    return absl::OkStatus();
  }
  if (ext == ".pdb" || ext == ".gdb" || ext == ".wdb") {
    // Phishing signatures: libclamav checks the links of a mail's HTML while it reads the mail.
    Route(scan::kPlainMail, file, "*", "phishing signatures");
    return absl::OkStatus();
  }
  if (ext == ".cdb") {
    // Container metadata (member names, sizes, CRCs): nothing a literal can stand for.
    Route(scan::kPlainContainer, file, "*", "container metadata signatures");
    return absl::OkStatus();
  }
  if (ext == ".yar" || ext == ".yara" || ext == ".cbc") {
    Route(kAllPlainClasses, file, "*", ext == ".cbc" ? "bytecode" : "YARA rules");
    return absl::OkStatus();
  }
  const bool body = ext == ".ndb" || ext == ".ndu" || ext == ".db";
  const bool logical = ext == ".ldb" || ext == ".ldu";
  const bool hash = ext == ".hdb" || ext == ".hdu" || ext == ".hsb" || ext == ".hsu";
  if (!body && !logical && !hash) return absl::OkStatus();
  std::ifstream in(file, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", file.string()));
  std::string line;
  while (std::getline(in, line)) {
    std::string_view l = StripWhitespace(line);
    if (l.empty() || l.front() == '#') continue;
    if (body) BodyLine(file, l, ext == ".db");
    else if (logical) LogicalLine(file, l);
    else HashLine(l);
  }
  return absl::OkStatus();
}

absl::Status Deriver::ReadDir(const fs::path& dir, const fs::path& work, int depth) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  if (ec) return absl::NotFoundError(absl::StrCat("cannot list ", dir.string(), ": ", ec.message()));
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    if (absl::Status s = ReadFile(f, work, depth); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PrefilterDerivation> DerivePrefilterInputs(const std::string& dir,
                                                          const std::string& work_dir) {
  PrefilterDerivation out;
  Deriver deriver(&out);
  for (const FileTypeTrigger& t : BuiltinFileTypeTriggers()) {
    deriver.AddTrigger("libclamav", t.hex, t.mail);
  }
  if (absl::Status s = deriver.ReadDir(dir, work_dir, 0); !s.ok()) return s;
  return out;
}

}  // namespace kensa::sigs
