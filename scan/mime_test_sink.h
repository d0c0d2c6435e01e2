// SPDX-License-Identifier: GPL-2.0-or-later
// Test helper: a MimeSink that records what the parser reports, checks the event order as it
// goes, and a way to feed a message in pieces. Shared by the MIME parser tests and the fuzz
// harness.
#ifndef KENSA_SCAN_MIME_TEST_SINK_H_
#define KENSA_SCAN_MIME_TEST_SINK_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "scan/mime_parser.h"

namespace kensa::scan {

struct RecordedLeaf {
  MimePart begin;   // as given to OnLeafBegin
  MimePart end;     // as given to OnLeafEnd
  std::string data; // every OnLeafData piece, joined
  int begins = 0, ends = 0;
};

class RecordingSink : public MimeSink {
 public:
  void OnLeafBegin(const MimePart& part) override {
    if (by_id_.count(part.id)) problems.push_back("id begun twice: " + std::to_string(part.id));
    by_id_[part.id] = leaves.size();
    leaves.push_back({part, {}, {}, 1, 0});
    events.push_back("B" + std::to_string(part.id));
  }
  void OnLeafData(uint32_t id, std::string_view decoded) override {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) {
      problems.push_back("data for unknown leaf " + std::to_string(id));
      return;
    }
    RecordedLeaf& l = leaves[it->second];
    if (l.ends != 0) problems.push_back("data after end for " + std::to_string(id));
    if (decoded.empty()) problems.push_back("empty data for " + std::to_string(id));
    l.data.append(decoded);
  }
  void OnLeafEnd(const MimePart& part) override {
    auto it = by_id_.find(part.id);
    if (it == by_id_.end()) {
      problems.push_back("end without begin " + std::to_string(part.id));
      return;
    }
    RecordedLeaf& l = leaves[it->second];
    l.end = part;
    ++l.ends;
    events.push_back("E" + std::to_string(part.id));
  }
  void OnLimitExceeded(std::string_view what) override {
    limits.emplace_back(what);
    events.push_back("L" + std::string(what));
  }

  // Everything a reader of the events can observe, in a form that two runs can compare.
  // Second readings run interleaved with the primary one, and how they interleave depends on
  // how the input was split; each reading's own events do not. With `exact_alternates`
  // false, alternate leaves are compared as a sorted set without ids (several second readings
  // at once also number their parts in split-dependent order).
  std::string Digest(bool exact_alternates = true) const {
    std::string primary, alternate;
    std::vector<std::string> limit_events;  // second readings report limits too
    for (const std::string& e : events) {
      if (e[0] == 'L' && !exact_alternates) {
        limit_events.push_back(e);
        continue;
      }
      bool alt = e[0] != 'L' && std::stoul(e.substr(1)) >= (1u << 31);
      (alt ? alternate : primary) += e + ";";
    }
    std::sort(limit_events.begin(), limit_events.end());
    for (const std::string& e : limit_events) primary += e + ";";
    std::vector<std::string> alternates;
    std::string out = primary + "|" + (exact_alternates ? alternate : "");
    for (const RecordedLeaf& l : leaves) {
      const MimePart& p = l.end;
      bool with_ids = exact_alternates || !p.alternate_view;
      std::string d = (with_ids ? std::to_string(p.id) + " p" + std::to_string(p.parent) : "") +
                      " d" + std::to_string(p.depth) + " r" +
                      std::to_string(static_cast<int>(p.role)) + (p.alternate_view ? " alt" : "") +
                      " " + std::to_string(p.header_begin) + "," + std::to_string(p.header_end) +
                      "," + std::to_string(p.body_begin) + "," + std::to_string(p.body_end) + " " +
                      p.media_type + " " + p.filename + " b=" + p.boundary + " h" +
                      std::to_string(p.headers.size()) + " e" +
                      std::to_string(static_cast<int>(p.encoding)) + " #" +
                      std::to_string(l.data.size()) + ":" +
                      std::to_string(std::hash<std::string>()(l.data));
      if (with_ids) {
        out += "\n" + d;
      } else {
        alternates.push_back(d);
      }
    }
    std::sort(alternates.begin(), alternates.end());
    for (const std::string& d : alternates) out += "\n" + d;
    return out;
  }

  std::vector<RecordedLeaf> leaves;
  std::vector<std::string> events;
  std::vector<std::string> limits;
  std::vector<std::string> problems;

 private:
  std::map<uint32_t, size_t> by_id_;
};

// Feeds `raw` in pieces of the given sizes (cycling), then Finish().
inline void FeedInPieces(MimeParser& parser, std::string_view raw,
                         const std::vector<size_t>& sizes) {
  size_t i = 0, k = 0;
  while (i < raw.size()) {
    size_t n = sizes.empty() ? raw.size() : std::max<size_t>(1, sizes[k++ % sizes.size()]);
    n = std::min(n, raw.size() - i);
    parser.Feed(raw.substr(i, n));
    i += n;
  }
  parser.Finish();
}

inline void FeedRandomly(MimeParser& parser, std::string_view raw, uint32_t seed,
                         size_t max_piece) {
  std::mt19937 rng(seed);
  size_t i = 0;
  while (i < raw.size()) {
    size_t n = std::uniform_int_distribution<size_t>(1, max_piece)(rng);
    n = std::min(n, raw.size() - i);
    parser.Feed(raw.substr(i, n));
    i += n;
  }
  parser.Finish();
}

}  // namespace kensa::scan

#endif  // KENSA_SCAN_MIME_TEST_SINK_H_
