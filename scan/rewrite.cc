// SPDX-License-Identifier: GPL-2.0-or-later
// Findings become edits in three steps: collapse findings whose ranges nest, coincide or
// overlap into one replacement each (the outermost leads), write one notice per replacement,
// and express the replacement as edits on the lead part's header block and body, so that every
// byte outside the infected parts' ranges is untouched.
#include "scan/rewrite.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "scan/notice_templates.h"
#include "scan/transfer_encoding.h"

namespace kensa::scan {
namespace {

using spool::ContentEdit;
using Kind = ScanResult::Kind;

// A file name longer than this (in characters) is cut: it is shown, not used.
constexpr size_t kMaxFileNameChars = 200;
// One virus name or reason, the host and the version, in the notice and the trace headers.
constexpr size_t kMaxNameChars = 200;
// Every name of one notice together (findings of one range collapse into one notice).
constexpr size_t kMaxNameListChars = 4000;
// Trace header lines are folded to this width (RFC 5322 2.1.1 "SHOULD" 78; the hard limit is
// 998, which kMaxNameChars keeps every single word far below).
constexpr size_t kFoldWidth = 78;
constexpr std::string_view kNoticeFileName = "kensa-virus-notice.txt";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Debian's Abseil has its own string_view, so text is put together with std::string here.
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out.append(p);
  return out;
}

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 if it is not well-formed
// (overlong, surrogate, past U+10FFFF, truncated).
size_t Utf8Length(std::string_view s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t c = b(0);
  size_t n;
  uint32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    n = 2, v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, v = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, v = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(k) & 0x3F);
  }
  if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
      (v >= 0xD800 && v <= 0xDFFF)) {
    return 0;
  }
  *cp = v;
  return n;
}

// Characters that must not reach the reader: controls (they could end a line of the notice or
// fake one) and the bidirectional overrides that make "exe.pdf" display as "fdp.exe".
bool Hidden(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F;
}

// Text for the notice: valid UTF-8 (a bad byte becomes U+FFFD), nothing hidden, at most
// max_chars characters (the last one an ellipsis when cut).
std::string SanitiseText(std::string_view s, size_t max_chars) {
  std::vector<std::string_view> chars;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t n = Utf8Length(s, i, &cp);
    if (n == 0) {
      chars.push_back(kReplacement);
      ++i;
      continue;
    }
    if (!Hidden(cp)) chars.push_back(s.substr(i, n));
    i += n;
  }
  std::string out;
  if (chars.size() > max_chars) {
    chars.resize(max_chars - 1);
    chars.push_back("\xE2\x80\xA6");  // U+2026 HORIZONTAL ELLIPSIS
  }
  for (std::string_view c : chars) out.append(c);
  return out;
}

// Text for a header field: printable ASCII only (a header must not be ended or extended by a
// name), at most kMaxNameChars.
std::string SanitiseAscii(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (out.size() == kMaxNameChars) break;
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) continue;
    out.push_back(u > 0x7F ? '?' : c);
  }
  return out;
}

// Appends `name` to `names` unless it is there already (first appearance keeps its place).
void AddDistinct(std::vector<std::string>* names, std::string name) {
  if (std::find(names->begin(), names->end(), name) == names->end()) {
    names->push_back(std::move(name));
  }
}

bool HasHeaders(const MimePart& p) {
  return p.role == PartRole::kMessageBody || p.role == PartRole::kMultipartChild;
}

bool Ordered(const MimePart& p) {
  return p.header_begin <= p.header_end && p.header_end <= p.body_begin &&
         p.body_begin <= p.body_end;
}

// One replacement: the findings whose ranges share bytes, led by the outermost one.
struct Replacement {
  PartFinding lead;  // its result merged from every member (names, kind)
  uint64_t begin = 0;
  uint64_t end = 0;  // extended over every member
  // The lead's header block is edited field by field. False when another reading starts
  // inside that block (or the lead's offsets are disordered): then the whole range goes.
  bool keep_headers = true;
  std::vector<std::pair<uint64_t, uint64_t>> removed_fields;  // from every member on the block
  std::vector<std::string> infected_names;
  std::vector<std::string> unscannable_reasons;
};

uint64_t RangeBegin(const MimePart& p) {
  return std::min({p.header_begin, p.header_end, p.body_begin, p.body_end});
}
uint64_t RangeEnd(const MimePart& p) {
  return std::max({p.header_begin, p.header_end, p.body_begin, p.body_end});
}

void AddMember(const PartFinding& f, Replacement* r) {
  const MimePart& lead = r->lead.part;
  const MimePart& p = f.part;
  r->end = std::max(r->end, RangeEnd(p));
  if (p.header_begin == lead.header_begin && p.header_end == lead.header_end && Ordered(p)) {
    if (HasHeaders(p)) {
      for (const MimeHeader& h : p.headers) {
        if (absl::EqualsIgnoreCase(h.name, "Content-Type") ||
            absl::EqualsIgnoreCase(h.name, "Content-Transfer-Encoding") ||
            absl::EqualsIgnoreCase(h.name, "Content-Disposition")) {
          r->removed_fields.emplace_back(h.begin, h.end);
        }
      }
    }
  } else if (RangeBegin(p) < lead.header_end) {
    r->keep_headers = false;
  }
  if (r->lead.part.filename.empty()) r->lead.part.filename = p.filename;
  if (f.result.kind == Kind::kInfected) {
    AddDistinct(&r->infected_names, f.result.name);
  } else {
    AddDistinct(&r->unscannable_reasons, ShownReason(f));
  }
}

std::vector<Replacement> Collapse(const std::vector<PartFinding>& findings) {
  std::vector<const PartFinding*> order;
  for (const PartFinding& f : findings) {
    if (f.result.kind != Kind::kClean) order.push_back(&f);
  }
  // Outermost first: by start, then the longer range; a primary reading before an alternate.
  std::stable_sort(order.begin(), order.end(), [](const PartFinding* a, const PartFinding* b) {
    if (RangeBegin(a->part) != RangeBegin(b->part)) return RangeBegin(a->part) < RangeBegin(b->part);
    if (RangeEnd(a->part) != RangeEnd(b->part)) return RangeEnd(a->part) > RangeEnd(b->part);
    return !a->part.alternate_view && b->part.alternate_view;
  });
  std::vector<Replacement> out;
  for (const PartFinding* f : order) {
    const uint64_t begin = RangeBegin(f->part);
    if (out.empty() || !(begin < out.back().end || begin == out.back().begin)) {
      Replacement r;
      r.lead = *f;
      r.begin = begin;
      r.end = RangeEnd(f->part);
      r.keep_headers = Ordered(f->part) && HasHeaders(f->part);
      out.push_back(std::move(r));
    }
    AddMember(*f, &out.back());
  }
  for (Replacement& r : out) {
    // The lead's result speaks for all: a virus outranks a part that could not be scanned.
    const bool infected = !r.infected_names.empty();
    r.lead.result.kind = infected ? Kind::kInfected : Kind::kUnscannable;
    std::vector<std::string> names;
    for (const std::string& n : infected ? r.infected_names : r.unscannable_reasons) {
      AddDistinct(&names, SanitiseText(n, kMaxNameChars));
    }
    r.lead.result.name = absl::StrJoin(names, ", ");
  }
  return out;
}

// The notice's own header fields and blank line, then its base64 body.
std::string NoticePart(const Replacement& r, const NoticeContext& ctx, std::string_view eol,
                       bool add_mime_version) {
  std::string out;
  if (add_mime_version) out += Cat({"MIME-Version: 1.0", eol});
  out += Cat({"Content-Type: text/plain; charset=\"UTF-8\"", eol,  //
              "Content-Transfer-Encoding: base64", eol,              //
              "Content-Disposition: inline; filename=\"", kNoticeFileName, "\"", eol, eol});
  std::string body = EncodeBase64(NoticeText(r.lead, ctx, eol), 76, eol);
  while (body.ends_with(eol)) body.resize(body.size() - eol.size());
  out += body;
  // A multipart child's body ends where the line ending of the next delimiter starts; a
  // message body runs to the end of its message, whose last line should end like any other.
  if (r.lead.part.role == PartRole::kMessageBody) out.append(eol);
  return out;
}

void AppendEdits(const Replacement& r, const NoticeContext& ctx, std::vector<ContentEdit>* out) {
  const MimePart& p = r.lead.part;
  const std::string_view eol = p.crlf ? "\r\n" : "\n";
  if (!HasHeaders(p)) {
    // Preamble or epilogue: no structure to keep, nothing a reader needs a notice for.
    out->push_back({r.begin, r.end, std::string(eol)});
    return;
  }
  const bool top_level = p.role == PartRole::kMessageBody && p.parent < 0;
  if (!r.keep_headers) {
    out->push_back({r.begin, r.end, NoticePart(r, ctx, eol, top_level)});
    return;
  }
  bool has_mime_version = false;
  for (const MimeHeader& h : p.headers) {
    if (absl::EqualsIgnoreCase(h.name, "MIME-Version")) has_mime_version = true;
  }
  std::vector<std::pair<uint64_t, uint64_t>> fields = r.removed_fields;
  std::sort(fields.begin(), fields.end());
  std::vector<std::pair<uint64_t, uint64_t>> removals;  // disjoint, inside the block
  for (auto [begin, end] : fields) {
    if (begin >= end || begin < p.header_begin || end > p.header_end) continue;
    if (!removals.empty() && begin <= removals.back().second) {
      // The same field from two readings, or touching fields: one removal.
      removals.back().second = std::max(removals.back().second, end);
    } else {
      removals.emplace_back(begin, end);
    }
  }
  for (auto [begin, end] : removals) out->push_back({begin, end, ""});
  out->push_back({p.header_end, r.end, NoticePart(r, ctx, eol, top_level && !has_mime_version)});
}

std::string FoldField(std::string_view name, std::string_view value) {
  std::string out = Cat({name, ":"});
  size_t line = out.size();
  bool first_on_line = true;
  for (absl::string_view word :
       absl::StrSplit(absl::string_view(value.data(), value.size()), ' ', absl::SkipEmpty())) {
    if (!first_on_line && line + 1 + word.size() > kFoldWidth) {
      out += "\r\n";  // the space that follows makes the next line a continuation
      line = 0;
    }
    out.push_back(' ');
    out.append(word.data(), word.size());
    line += 1 + word.size();
    first_on_line = false;
  }
  out += "\r\n";
  return out;
}

}  // namespace

std::string ShownReason(const PartFinding& finding) {
  const std::string& name = finding.result.name;
  // Only the raw form ("scan error: ..."), so that a reason already shown passes unchanged.
  if (finding.result.kind != Kind::kUnscannable || !absl::StartsWith(name, "scan error:")) {
    return name;
  }
  // What follows "scan error" is this machine's business (an errno text, a temporary path):
  // the reader is shown which part it was, by its file name or else its position.
  if (!finding.part.filename.empty()) {
    return absl::StrCat("scan error in \"", finding.part.filename, "\"");
  }
  return absl::StrCat("scan error in part ", finding.part.id);
}

std::string NoticeText(const PartFinding& finding, const NoticeContext& ctx, std::string_view eol) {
  const bool infected = finding.result.kind == Kind::kInfected;
  const std::string file = SanitiseText(finding.part.filename, kMaxFileNameChars);
  const std::string name = SanitiseText(ShownReason(finding), kMaxNameListChars);
  const std::string queue_id = SanitiseText(ctx.queue_id, kMaxNameChars);
  const std::string host = SanitiseText(ctx.hostname, kMaxNameChars);
  const std::string version = SanitiseText(ctx.signature_version, kMaxNameChars);
  const ReasonWords reason = DescribeUnscannable(finding.result.name);
  std::string out;
  for (const NoticeWording* w : {&JapaneseWording(), &EnglishWording()}) {
    const std::string_view reason_words = w == &JapaneseWording() ? reason.japanese : reason.english;
    if (!out.empty()) out += eol;  // a blank line between the languages
    if (infected) {
      out += Cat({w->infected, eol});
    } else {
      const size_t at = w->unscannable.find("{reason}");
      out += Cat({w->unscannable.substr(0, at), reason_words,
                  w->unscannable.substr(at + std::string_view("{reason}").size()), eol});
    }
    out += Cat({"  ", w->file_label, ": ", file.empty() ? w->unnamed_file : file, eol});
    out += Cat({"  ", infected ? w->virus_label : w->reason_label, ": ", name, eol});
    out += Cat({"  ", w->queue_id_label, ": ", queue_id, eol});
    out += Cat({"  ", w->host_label, ": ", host, eol});
    out += Cat({"  ", w->signatures_label, ": ", version, eol});
    out += Cat({w->closing, eol});
  }
  return out;
}

std::vector<spool::ContentEdit> CleaningEdits(const std::vector<PartFinding>& findings,
                                              const NoticeContext& ctx) {
  std::vector<ContentEdit> out;
  for (const Replacement& r : Collapse(findings)) AppendEdits(r, ctx, &out);
  return out;
}

std::string VirusHeaders(const std::vector<PartFinding>& findings, const NoticeContext& ctx) {
  std::string out = FoldField("X-Virus-Scanned", absl::StrCat("kensa ", SanitiseAscii(ctx.hostname),
                                                              "; signatures ",
                                                              SanitiseAscii(ctx.signature_version)));
  std::vector<std::string> infected, unscannable;
  for (const PartFinding& f : findings) {
    if (f.result.kind == Kind::kInfected) AddDistinct(&infected, SanitiseAscii(f.result.name));
    if (f.result.kind == Kind::kUnscannable) AddDistinct(&unscannable, SanitiseAscii(ShownReason(f)));
  }
  if (infected.empty() && unscannable.empty()) return out + FoldField("X-Virus-Status", "Clean");
  std::vector<std::string> verdicts;
  if (!infected.empty()) verdicts.push_back(absl::StrCat("Infected (", absl::StrJoin(infected, ", "), ")"));
  if (!unscannable.empty()) {
    verdicts.push_back(absl::StrCat("Unscannable (", absl::StrJoin(unscannable, ", "), ")"));
  }
  const size_t replaced = Collapse(findings).size();
  return out + FoldField("X-Virus-Status",
                         absl::StrCat(absl::StrJoin(verdicts, ", "), "; ", replaced,
                                      replaced == 1 ? " part" : " parts", " replaced"));
}

}  // namespace kensa::scan
