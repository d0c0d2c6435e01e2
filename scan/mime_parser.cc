// SPDX-License-Identifier: GPL-2.0-or-later
// The streaming engine behind MimeParser. A stack of frames, outermost first: each frame is
// a part whose header block is being read, or a part in its body (a leaf, a multipart, a
// message/rfc822). Only the top frame consumes bytes. Body bytes are forwarded, as raw
// bytes, to every frame whose body contains them: a leaf decodes them for the sink, a
// structured part passes them to the readings it also has (a whole-body leaf, or a second
// parser for a second boundary). Every raw byte of a frame's body reaches it exactly once and
// in order, so a second parser's offsets are the message's offsets.
//
// Memory is bounded: the header block (max_header_bytes), the start of a line that may be a
// delimiter (longest boundary + padding), the line ending before it, and a blank preamble.
// Choices where clients differ, documented once here:
//  - A line in a header block that is not a field and not folded starts the body (Python's
//    email, Thunderbird); the obsolete "name WSP :" form is a field (RFC 5322 obs-syntax).
//  - Delimiters need only padding after the boundary (see mime_boundary.h); a bare CR is
//    not a line ending. A body line that starts with a boundary but goes on ("--b junk") is a
//    delimiter to readers that follow RFC 2046's prefix rule (mime4j): from the first such
//    line on, the rest of that multipart is also parsed that way, as a second reading. (The
//    part before it is a prefix of the part we report; such a line inside a header block
//    is not looked for.)
//  - Preamble and epilogue leaves are reported when they hold anything but SP/HT/CR/LF.
//  - When a part's headers end at a delimiter (no blank line), its body is empty.
#include "scan/mime_parser.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scan/mime_boundary.h"
#include "scan/mime_header.h"
#include "scan/mime_readings.h"

namespace kensa::scan {
namespace {

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

// Counters shared by a message's parser and the second-reading parsers it starts.
struct SharedCounts {
  uint32_t next_id = 0;
  // Parts of second readings are numbered apart, so that the primary reading's ids do not
  // depend on how the input was split (second readings run interleaved with it).
  uint32_t next_alternate_id = 1u << 31;
  size_t alternate_parsers = 0;
};

}  // namespace

struct MimeParser::Impl {
  // One leaf reading of a frame's body.
  struct Leaf {
    MimePart part;
    std::unique_ptr<StreamDecoder> decoder;  // null for identity
    bool begun = false;
    bool defer_blank = false;  // preamble/epilogue: begin only at the first non-blank byte
    std::string held_blank;
  };

  struct Frame {
    enum Kind { kHeaders, kLeaf, kMultipart, kMessage };
    Kind kind = kHeaders;
    MimePart part;
    std::string header_block;   // kHeaders: the block read so far
    size_t line_start = 0;      // kHeaders: where the current line starts in header_block
    std::string default_type = "text/plain";
    // kMultipart:
    std::string boundary;
    bool digest = false;
    bool in_epilogue = false;
    bool overflowed = false;    // max_parts hit: the rest is one leaf until the close
    bool prefix_reading = false;  // a second reading by the prefix rule was started
    // Every reading of this frame's body that needs its raw bytes:
    std::vector<Leaf> leaves;
    std::vector<std::unique_ptr<Impl>> alternates;
  };

  // A prefix-rule delimiter line was seen; its reading starts after the line ending.
  struct PendingPrefixReading {
    bool pending = false;
    size_t frame = 0;
    bool close = false;
  };

  enum class LineState { kLineStart, kCandidate, kInLine, kDelimiterTail };

  Impl(const MimeLimits& l, MimeSink* s, SharedCounts* shared, uint64_t base, bool alternate,
       bool prefix_rule = false)
      : limits(l),
        sink(s),
        counts(shared),
        offset(base),
        alternate_view(alternate),
        prefix_delimiters(prefix_rule) {}

  const MimeLimits limits;
  MimeSink* const sink;
  SharedCounts owned_counts;
  SharedCounts* counts;
  // Parts of this reading. Each reading has its own budget: readings run interleaved in an
  // order that depends on how the input was split, and a shared budget would run out in a
  // different reading for each split. Readings are bounded too (max_alternate_parsers).
  size_t parts = 0;
  uint64_t offset;  // raw offset of the next byte to consume
  uint64_t bytes_fed = 0;
  const bool alternate_view;
  const bool prefix_delimiters;  // this reading takes "--boundary<anything>" as a delimiter
  size_t skip_bytes = 0;         // a prefix reading starts after the line ending it is fed
  PendingPrefixReading prefix_pending;
  bool finished = false;

  std::vector<std::unique_ptr<Frame>> stack;
  // Open multipart frames whose delimiters are live, innermost first.
  std::vector<std::string_view> boundaries;
  std::vector<size_t> boundary_frames;
  size_t candidate_cap = 0;

  LineState line_state = LineState::kLineStart;
  std::string held_eol;  // "", "\r", "\n" or "\r\n": a line ending that may open a delimiter
  uint64_t held_eol_begin = 0;
  std::string candidate;  // the start of a line that may be a delimiter
  uint64_t candidate_begin = 0;
  size_t tail_frame = 0;  // kDelimiterTail: the multipart whose delimiter line is being ended
  bool tail_close = false;
  bool last_crlf = true;
  std::string scratch;

  // ---- setup -------------------------------------------------------------------------

  uint32_t NextId() { return alternate_view ? counts->next_alternate_id++ : counts->next_id++; }

  // `numbered` false for a leaf numbered only when it turns out to be reported.
  MimePart NewPart(PartRole role, int32_t parent, uint32_t depth, bool numbered = true) {
    MimePart p;
    p.id = numbered ? NextId() : 0;
    p.parent = parent;
    p.depth = depth;
    p.role = role;
    p.alternate_view = alternate_view;
    p.header_begin = p.header_end = p.body_begin = offset;
    p.crlf = last_crlf;
    return p;
  }

  void PushHeaders(PartRole role, int32_t parent, uint32_t depth, std::string default_type) {
    auto f = std::make_unique<Frame>();
    f->part = NewPart(role, parent, depth);
    f->default_type = std::move(default_type);
    ++parts;
    stack.push_back(std::move(f));
    line_state = LineState::kLineStart;
    held_eol.clear();
  }

  void StartMessage() { PushHeaders(PartRole::kMessageBody, -1, 0, "text/plain"); }

  // ---- forwarding of raw body bytes --------------------------------------------------

  void BeginLeaf(Leaf& leaf) {
    leaf.begun = true;
    sink->OnLeafBegin(leaf.part);
  }

  void DeliverToLeaf(Leaf& leaf, std::string_view bytes) {
    if (leaf.defer_blank && !leaf.begun) {
      if (IsBlank(bytes) && leaf.held_blank.size() + bytes.size() <= limits.max_held_whitespace) {
        leaf.held_blank.append(bytes);
        return;
      }
      ++parts;
      leaf.part.id = NextId();  // numbered when it turns out to be reported
      BeginLeaf(leaf);
      std::string held = std::move(leaf.held_blank);
      leaf.held_blank.clear();
      if (!held.empty()) DeliverToLeaf(leaf, held);
    }
    if (!leaf.decoder) {
      sink->OnLeafData(leaf.part.id, bytes);
      return;
    }
    scratch.clear();
    leaf.decoder->Feed(bytes, &scratch);
    if (!scratch.empty()) sink->OnLeafData(leaf.part.id, scratch);
  }

  // Raw bytes inside the bodies of frames [0, frame_end).
  void Forward(std::string_view bytes, size_t frame_end) {
    if (bytes.empty()) return;
    for (size_t i = 0; i < frame_end; ++i) {
      Frame& f = *stack[i];
      for (Leaf& leaf : f.leaves) DeliverToLeaf(leaf, bytes);
      for (auto& alt : f.alternates) alt->Feed(bytes);
    }
  }

  void ForwardBody(std::string_view bytes) { Forward(bytes, stack.size()); }

  void FlushHeldEol() {
    if (held_eol.empty()) return;
    std::string eol = std::move(held_eol);
    held_eol.clear();
    ForwardBody(eol);
  }

  void RefreshBoundaries() {
    boundaries.clear();
    boundary_frames.clear();
    size_t longest = 0;
    for (size_t i = stack.size(); i-- > 0;) {
      Frame& f = *stack[i];
      if (f.kind != Frame::kMultipart || f.in_epilogue) continue;
      boundaries.push_back(f.boundary);
      boundary_frames.push_back(i);
      longest = std::max(longest, f.boundary.size());
    }
    candidate_cap = longest + 4 + limits.max_delimiter_padding;
  }

  // ---- frames: start and close -------------------------------------------------------

  Leaf MakeLeaf(const MimePart& base, const BodyReading& r, bool first_of_frame) {
    Leaf leaf;
    leaf.part = base;
    if (!first_of_frame) {
      leaf.part.id = NextId();
      leaf.part.alternate_view = true;
      ++parts;
    }
    leaf.part.media_type = r.media_type;
    leaf.part.charset = r.charset;
    leaf.part.boundary = r.boundary;
    leaf.part.encoding = r.encoding;
    if (r.encoding != TransferEncoding::kIdentity) leaf.decoder = NewStreamDecoder(r.encoding);
    return leaf;
  }

  // The top frame's header block ended: [header_begin, header_end) are fields,
  // [header_end, body_begin) the blank line. `force_leaf` when the block was cut at its limit.
  void EndHeaders(uint64_t header_end, uint64_t body_begin, bool force_leaf) {
    Frame& f = *stack.back();
    f.part.header_end = header_end;
    f.part.body_begin = body_begin;
    std::string block = std::move(f.header_block);
    f.header_block.clear();
    f.header_block.shrink_to_fit();
    Forward(std::string_view(block).substr(0, body_begin - f.part.header_begin),
            stack.size() - 1);
    size_t fields_end = header_end - f.part.header_begin;
    PartHeaders h = ReadPartHeaders(std::string_view(block).substr(0, fields_end),
                                    f.part.header_begin, f.default_type, limits);
    if (h.readings_capped) sink->OnLimitExceeded("readings of one part");
    f.part.headers = std::move(h.kept);
    f.part.filename = std::move(h.filename);
    if (size_t nl = block.find('\n'); nl != std::string::npos) {
      f.part.crlf = nl > 0 && block[nl - 1] == '\r';
    }
    StartBody(std::move(h.readings), force_leaf);
  }

  bool MayNest(const Frame& f) {
    if (f.part.depth >= limits.max_depth) {
      sink->OnLimitExceeded("MIME nesting depth");
      return false;
    }
    if (parts >= limits.max_parts) {
      sink->OnLimitExceeded("MIME part count");
      return false;
    }
    return true;
  }

  void StartBody(std::vector<BodyReading> readings, bool force_leaf) {
    Frame& f = *stack.back();
    for (BodyReading& r : readings) {
      if (r.kind != BodyReading::kLeaf && (force_leaf || !MayNest(f))) {
        r.kind = BodyReading::kLeaf;
        r.boundary.clear();
      }
    }
    const BodyReading& primary = readings[0];
    f.part.media_type = primary.media_type;
    f.part.charset = primary.charset;
    f.part.boundary = primary.boundary;
    f.part.encoding = primary.encoding;
    f.kind = primary.kind == BodyReading::kMultipart ? Frame::kMultipart
             : primary.kind == BodyReading::kMessage ? Frame::kMessage
                                                     : Frame::kLeaf;
    if (f.kind != Frame::kLeaf) sink->OnContainerBegin(f.part);
    bool first = true;
    for (size_t i = 0; i < readings.size(); ++i) {
      const BodyReading& r = readings[i];
      if (i > 0 && r.kind != BodyReading::kLeaf) {
        StartAlternateParser(f, r);
        continue;
      }
      if (r.kind != BodyReading::kLeaf) continue;  // the frame's own structure
      bool primary_leaf = first && f.kind == Frame::kLeaf;
      f.leaves.push_back(MakeLeaf(f.part, r, primary_leaf));
      first = false;
    }
    for (Leaf& leaf : f.leaves) BeginLeaf(leaf);
    line_state = LineState::kLineStart;
    held_eol.clear();
    if (f.kind == Frame::kMultipart) {
      f.boundary = primary.boundary;
      f.digest = primary.media_type == "multipart/digest";
      PushPseudoLeaf(PartRole::kPreamble);
      RefreshBoundaries();
    } else if (f.kind == Frame::kMessage) {
      PushHeaders(PartRole::kMessageBody, static_cast<int32_t>(f.part.id), f.part.depth + 1,
                  "text/plain");
    }
  }

  // A second structural reading (another boundary, a message/rfc822 reading) gets its own
  // parser over this frame's body; everything it reports is an alternate view.
  void StartAlternateParser(Frame& f, const BodyReading& r) {
    if (counts->alternate_parsers >= limits.max_alternate_parsers) {
      sink->OnLimitExceeded("alternate MIME readings");
      BodyReading leaf = r;
      leaf.kind = BodyReading::kLeaf;
      leaf.boundary.clear();
      Leaf l = MakeLeaf(f.part, leaf, false);
      f.leaves.push_back(std::move(l));
      return;
    }
    ++counts->alternate_parsers;
    auto alt = std::make_unique<Impl>(limits, sink, counts, f.part.body_begin, true);
    alt->last_crlf = last_crlf;
    if (r.kind == BodyReading::kMultipart) {
      auto mf = std::make_unique<Frame>();
      mf->kind = Frame::kMultipart;
      mf->part = f.part;
      mf->part.id = alt->NextId();
      mf->part.alternate_view = true;
      mf->part.media_type = r.media_type;
      mf->part.boundary = r.boundary;
      mf->boundary = r.boundary;
      mf->digest = r.media_type == "multipart/digest";
      ++alt->parts;
      alt->stack.push_back(std::move(mf));
      alt->PushPseudoLeaf(PartRole::kPreamble);
      alt->RefreshBoundaries();
    } else {
      alt->PushHeaders(PartRole::kMessageBody, static_cast<int32_t>(f.part.id),
                       f.part.depth + 1, "text/plain");
    }
    f.alternates.push_back(std::move(alt));
  }

  void PushPseudoLeaf(PartRole role) {
    Frame& mp = *stack.back();
    auto f = std::make_unique<Frame>();
    f->kind = Frame::kLeaf;
    f->part = NewPart(role, static_cast<int32_t>(mp.part.id), mp.part.depth + 1, false);
    Leaf leaf;
    leaf.part = f->part;
    leaf.defer_blank = true;
    f->leaves.push_back(std::move(leaf));
    stack.push_back(std::move(f));
    line_state = LineState::kLineStart;
    held_eol.clear();
  }

  // The rest of a multipart past max_parts: one leaf, no headers, until the close delimiter.
  void PushOverflowLeaf() {
    Frame& mp = *stack.back();
    auto f = std::make_unique<Frame>();
    f->kind = Frame::kLeaf;
    f->part = NewPart(PartRole::kMultipartChild, static_cast<int32_t>(mp.part.id),
                      mp.part.depth + 1);
    f->part.media_type = "application/octet-stream";
    Leaf leaf;
    leaf.part = f->part;
    f->leaves.push_back(std::move(leaf));
    stack.push_back(std::move(f));
    BeginLeaf(stack.back()->leaves.back());
    line_state = LineState::kLineStart;
    held_eol.clear();
  }

  void CloseTop(uint64_t end) {
    Frame& f = *stack.back();
    if (f.kind == Frame::kHeaders) {
      // Headers that never reached a blank line: all of it is header, the body is empty.
      (void)end;
      EndHeaders(offset, offset, false);
      return;  // StartBody may have pushed frames; the caller loops
    }
    f.part.body_end = std::max(end, f.part.body_begin);
    for (Leaf& leaf : f.leaves) {
      if (!leaf.begun) continue;  // a blank preamble or epilogue
      if (leaf.decoder) {
        scratch.clear();
        leaf.decoder->Finish(&scratch);
        if (!scratch.empty()) sink->OnLeafData(leaf.part.id, scratch);
      }
      leaf.part.body_end = f.part.body_end;
      sink->OnLeafEnd(leaf.part);
    }
    for (auto& alt : f.alternates) {
      alt->Finish();
      --counts->alternate_parsers;
    }
    stack.pop_back();
  }

  // ---- delimiters --------------------------------------------------------------------

  // A delimiter line of boundary_frames[index] starts at `line_begin`; the line ending before
  // it (the held one, which belongs to the delimiter) starts at `eol_begin`. Closes the frames
  // inside that multipart and hands it the line ending and the line read so far.
  size_t OpenDelimiter(size_t index, uint64_t eol_begin, std::string_view line_so_far) {
    size_t frame = boundary_frames[index];
    while (stack.size() > frame + 1) CloseTop(eol_begin);
    RefreshBoundaries();
    std::string eol = std::move(held_eol);
    held_eol.clear();
    Forward(eol, stack.size());
    Forward(line_so_far, stack.size());
    return frame;
  }

  // The delimiter line ended: what follows is the next child, or the epilogue.
  void AfterDelimiter(bool close) {
    Frame& mp = *stack.back();
    last_crlf = candidate.size() >= 2 && candidate[candidate.size() - 2] == '\r';
    if (close) {
      mp.in_epilogue = true;
      RefreshBoundaries();
      PushPseudoLeaf(PartRole::kEpilogue);
    } else if (parts >= limits.max_parts) {
      sink->OnLimitExceeded("MIME part count");
      mp.overflowed = true;
      PushOverflowLeaf();
    } else {
      PushHeaders(PartRole::kMultipartChild, static_cast<int32_t>(mp.part.id), mp.part.depth + 1,
                  mp.digest ? "message/rfc822" : "text/plain");
    }
    RefreshBoundaries();
  }

  DelimiterMatch Match(std::string_view line, bool complete, bool decide_now) {
    DelimiterMatch m = MatchDelimiter(line, complete, decide_now, boundaries, prefix_delimiters);
    // Past max_parts a multipart keeps only its close delimiter.
    if (m.kind == DelimiterMatch::kDelimiter && stack[boundary_frames[m.index]]->overflowed) {
      m.kind = DelimiterMatch::kNone;
    }
    return m;
  }

  // ---- the prefix-rule reading -------------------------------------------------------

  // The current line is not a delimiter, but may be one by the prefix rule. The exact rule
  // said no as soon as it could, and the prefix rule needs no more than that to decide.
  void NotePrefixRuleDelimiter() {
    if (prefix_delimiters || prefix_pending.pending) return;
    DelimiterMatch m = MatchDelimiter(candidate, true, true, boundaries, true);
    if (m.kind != DelimiterMatch::kDelimiter && m.kind != DelimiterMatch::kClose) return;
    size_t frame = boundary_frames[m.index];
    // Past max_parts there is no more structure to read; one prefix reading splits the
    // whole rest of its multipart.
    if (stack[frame]->prefix_reading || stack[frame]->overflowed) return;
    stack[frame]->prefix_reading = true;
    if (counts->alternate_parsers >= limits.max_alternate_parsers) {
      sink->OnLimitExceeded("alternate MIME readings");
      return;
    }
    prefix_pending = {true, frame, m.kind == DelimiterMatch::kClose};
  }

  // Called when the line ending after a prefix-rule delimiter line has been read (and is
  // held): the second reading is the rest of that multipart, split by the prefix rule.
  void StartPendingPrefixReading() {
    if (!prefix_pending.pending) return;
    prefix_pending.pending = false;
    if (prefix_pending.frame >= stack.size()) return;
    Frame& mp = *stack[prefix_pending.frame];
    ++counts->alternate_parsers;
    auto alt = std::make_unique<Impl>(limits, sink, counts, offset, true, true);
    alt->last_crlf = last_crlf;
    alt->skip_bytes = held_eol.size();  // mp's readings get this line ending; not this one
    alt->candidate = held_eol;
    auto f = std::make_unique<Frame>();
    f->kind = Frame::kMultipart;
    f->part = mp.part;
    f->part.id = alt->NextId();
    f->part.alternate_view = true;
    f->boundary = mp.boundary;
    f->digest = mp.digest;
    alt->stack.push_back(std::move(f));
    alt->AfterDelimiter(prefix_pending.close);
    mp.alternates.push_back(std::move(alt));
  }

  // ---- header blocks -----------------------------------------------------------------

  std::string_view FeedHeaders(std::string_view data) {
    Frame& f = *stack.back();
    const char* nl = static_cast<const char*>(std::memchr(data.data(), '\n', data.size()));
    size_t take = nl ? static_cast<size_t>(nl - data.data()) + 1 : data.size();
    size_t room = limits.max_header_bytes - std::min(limits.max_header_bytes, f.header_block.size());
    if (take > room) {
      f.header_block.append(data.substr(0, room));
      offset += room;
      data.remove_prefix(room);
      sink->OnLimitExceeded("header block size");
      bool at_line_start = f.header_block.empty() || f.header_block.back() == '\n';
      EndHeaders(offset, offset, true);
      if (!at_line_start) line_state = LineState::kInLine;
      return data;
    }
    f.header_block.append(data.substr(0, take));
    offset += take;
    data.remove_prefix(take);
    if (nl) HeaderLine(true);
    return data;
  }

  // The top frame's current header line is complete (`has_eol`), or the input ended.
  void HeaderLine(bool has_eol) {
    Frame& f = *stack.back();
    std::string_view line = std::string_view(f.header_block).substr(f.line_start);
    std::string_view bare = line;
    if (has_eol) bare.remove_suffix(1);
    uint64_t line_begin = f.part.header_begin + f.line_start;
    if (!boundaries.empty()) {
      DelimiterMatch m = Match(bare, true, false);
      if (m.kind == DelimiterMatch::kDelimiter || m.kind == DelimiterMatch::kClose) {
        std::string delimiter_line(line);
        f.header_block.resize(f.line_start);
        // Parts that the header block's end opens (and the delimiter closes) start here.
        offset = line_begin;
        EndHeaders(line_begin, line_begin, false);
        OpenDelimiter(m.index, line_begin, delimiter_line);
        offset = line_begin + delimiter_line.size();
        candidate = delimiter_line;
        if (has_eol) {
          AfterDelimiter(m.kind == DelimiterMatch::kClose);
        } else {
          tail_close = m.kind == DelimiterMatch::kClose;
          line_state = LineState::kDelimiterTail;
        }
        return;
      }
    }
    if (has_eol && (bare.empty() || bare == "\r")) {
      last_crlf = bare == "\r";
      EndHeaders(line_begin, offset, false);
      return;
    }
    bool first_line = f.line_start == 0;
    if (IsHeaderLine(bare) ||
        (first_line && f.part.parent < 0 && f.part.depth == 0 && IsMboxFromLine(bare))) {
      f.line_start = f.header_block.size();
      if (!has_eol) EndHeaders(offset, offset, false);
      return;
    }
    // Not a field: the body starts at this line. Read the line again as body.
    std::string body_line(line);
    f.header_block.resize(f.line_start);
    offset = line_begin;
    EndHeaders(line_begin, line_begin, false);
    FeedAll(body_line);
  }

  // ---- bodies ------------------------------------------------------------------------

  std::string_view FeedBody(std::string_view data) {
    if (boundaries.empty()) {  // nothing can end this part before the end of the message
      ForwardBody(data);
      offset += data.size();
      return {};
    }
    switch (line_state) {
      case LineState::kLineStart:
        if (data[0] != '-') {
          FlushHeldEol();
          line_state = LineState::kInLine;
          return data;
        }
        line_state = LineState::kCandidate;
        candidate.clear();
        candidate_begin = offset;
        return data;
      case LineState::kCandidate:
        return FeedCandidate(data);
      case LineState::kInLine:
        return FeedInLine(data);
      case LineState::kDelimiterTail: {
        const char* nl = static_cast<const char*>(std::memchr(data.data(), '\n', data.size()));
        size_t take = nl ? static_cast<size_t>(nl - data.data()) + 1 : data.size();
        ForwardBody(data.substr(0, take));
        offset += take;
        if (nl) {
          candidate = std::string(data.substr(take - std::min<size_t>(take, 2), std::min<size_t>(take, 2)));
          AfterDelimiter(tail_close);
        }
        return data.substr(take);
      }
    }
    return {};
  }

  std::string_view FeedCandidate(std::string_view data) {
    const char* nl = static_cast<const char*>(std::memchr(data.data(), '\n', data.size()));
    size_t line_bytes = nl ? static_cast<size_t>(nl - data.data()) : data.size();
    size_t take = std::min(line_bytes, candidate_cap - std::min(candidate_cap, candidate.size()));
    candidate.append(data.substr(0, take));
    offset += take;
    data.remove_prefix(take);
    bool complete = nl && take == line_bytes;
    // Past the cap only once a byte other than LF is known to follow: the same line must be
    // decided the same way however it arrives.
    bool at_cap = !complete && candidate.size() >= candidate_cap && take < line_bytes;
    DelimiterMatch m = Match(candidate, complete, at_cap);
    if (m.kind == DelimiterMatch::kNeedMore) return data;
    if (m.kind == DelimiterMatch::kNone) {
      NotePrefixRuleDelimiter();
      FlushHeldEol();
      // A CR last may start the line ending before the next line, which may be a delimiter.
      bool cr_last = !candidate.empty() && candidate.back() == '\r';
      ForwardBody(std::string_view(candidate).substr(0, candidate.size() - cr_last));
      if (cr_last) {
        held_eol = "\r";
        held_eol_begin = offset - 1;
      }
      candidate.clear();
      line_state = LineState::kInLine;
      return data;
    }
    uint64_t eol_begin = held_eol.empty() ? candidate_begin : held_eol_begin;
    if (complete) {
      candidate.push_back('\n');
      offset += 1;
      data.remove_prefix(1);
    }
    OpenDelimiter(m.index, eol_begin, candidate);
    if (complete) {
      AfterDelimiter(m.kind == DelimiterMatch::kClose);
    } else {
      // A boundary followed by more padding than we keep: a delimiter (as Python and
      // Thunderbird read it when the line ends in padding); the rest of the line is its.
      if (!prefix_delimiters) sink->OnLimitExceeded("delimiter line padding");
      tail_close = m.kind == DelimiterMatch::kClose;
      line_state = LineState::kDelimiterTail;
    }
    return data;
  }

  // Inside a line: forwards whole runs of lines that cannot be delimiters in one call and
  // stops at a line ending followed by '-' (or by the end of the input), which it holds back.
  std::string_view FeedInLine(std::string_view data) {
    if (held_eol == "\r") {
      if (data[0] == '\n') {
        held_eol.push_back('\n');
        offset += 1;
        line_state = LineState::kLineStart;
        StartPendingPrefixReading();
        return data.substr(1);
      }
      FlushHeldEol();
    }
    const char* begin = data.data();
    const char* end = begin + data.size();
    const char* p = begin;
    while (true) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (!nl) {
        size_t n = data.size();
        if (data.back() == '\r') {
          ForwardBody(data.substr(0, n - 1));
          held_eol = "\r";
          held_eol_begin = offset + n - 1;
        } else {
          ForwardBody(data);
        }
        offset += n;
        return {};
      }
      const char* next = nl + 1;
      if (next < end && *next != '-' && !prefix_pending.pending) {
        p = next;
        continue;
      }
      const char* eol = (nl > begin && nl[-1] == '\r') ? nl - 1 : nl;
      size_t body = static_cast<size_t>(eol - begin);
      size_t consumed = static_cast<size_t>(next - begin);
      ForwardBody(data.substr(0, body));
      held_eol.assign(eol, next);
      held_eol_begin = offset + body;
      last_crlf = held_eol.size() == 2;
      offset += consumed;
      line_state = LineState::kLineStart;
      StartPendingPrefixReading();
      return data.substr(consumed);
    }
  }

  // ---- driving -----------------------------------------------------------------------

  void FeedAll(std::string_view data) {
    while (!data.empty() && !stack.empty()) {
      if (stack.back()->kind == Frame::kHeaders) {
        data = FeedHeaders(data);
      } else {
        data = FeedBody(data);
      }
    }
  }

  void Feed(std::string_view data) {
    if (finished) return;
    size_t skip = std::min(skip_bytes, data.size());
    skip_bytes -= skip;
    FeedAll(data.substr(skip));
  }

  void Finish() {
    if (finished) return;
    finished = true;
    if (!stack.empty() && stack.back()->kind == Frame::kHeaders) {
      Frame& f = *stack.back();
      if (f.line_start < f.header_block.size()) HeaderLine(false);
    }
    if (!stack.empty() && stack.back()->kind != Frame::kHeaders) {
      switch (line_state) {
        case LineState::kCandidate: {
          DelimiterMatch m = boundaries.empty() ? DelimiterMatch{} : Match(candidate, true, false);
          if (m.kind == DelimiterMatch::kDelimiter || m.kind == DelimiterMatch::kClose) {
            uint64_t eol_begin = held_eol.empty() ? candidate_begin : held_eol_begin;
            OpenDelimiter(m.index, eol_begin, candidate);
            AfterDelimiter(m.kind == DelimiterMatch::kClose);
          } else {
            FlushHeldEol();
            ForwardBody(candidate);
          }
          candidate.clear();
          break;
        }
        case LineState::kDelimiterTail:
          candidate.clear();
          AfterDelimiter(tail_close);
          break;
        default:
          FlushHeldEol();
          break;
      }
    }
    while (!stack.empty()) CloseTop(offset);
  }
};

MimeParser::MimeParser(const MimeLimits& limits, MimeSink* sink)
    : impl_(std::make_unique<Impl>(limits, sink, nullptr, 0, false)) {
  impl_->counts = &impl_->owned_counts;
  impl_->StartMessage();
}

MimeParser::~MimeParser() = default;

void MimeParser::Feed(std::string_view raw) {
  if (!impl_->finished) impl_->bytes_fed += raw.size();  // counted first: sinks may ask
  impl_->Feed(raw);
}

void MimeParser::Finish() { impl_->Finish(); }

uint64_t MimeParser::bytes_fed() const { return impl_->bytes_fed; }

}  // namespace kensa::scan
