// SPDX-License-Identifier: GPL-2.0-or-later
// The wording of the notice that replaces an infected or unscannable part: a Japanese
// paragraph (the subscribers' language) followed by an English one, both UTF-8. Only words
// live here; rewrite.cc fills in the file, the virus names and the trace details, and encodes.
#ifndef KENSA_SCAN_NOTICE_TEMPLATES_H_
#define KENSA_SCAN_NOTICE_TEMPLATES_H_

#include <string_view>

namespace kensa::scan {

struct NoticeWording {
  std::string_view infected;     // the opening sentence when a virus was found
  std::string_view unscannable;  // the opening sentence when the part could not be scanned;
                                 // "{reason}" stands for the reason in words
  std::string_view file_label;
  std::string_view unnamed_file;  // shown when the part had no file name
  std::string_view virus_label;
  std::string_view reason_label;
  std::string_view queue_id_label;
  std::string_view host_label;
  std::string_view signatures_label;
  std::string_view closing;  // what the reader can do about it
};

const NoticeWording& JapaneseWording();
const NoticeWording& EnglishWording();

// Why a part could not be scanned, in words, from the engine's or scanner's reason
// ("Heuristics.Encrypted.Zip", "Heuristics.Limits.Exceeded.MaxFileSize", "scan error: ...").
struct ReasonWords {
  std::string_view japanese;
  std::string_view english;
};
ReasonWords DescribeUnscannable(std::string_view reason);

}  // namespace kensa::scan

#endif  // KENSA_SCAN_NOTICE_TEMPLATES_H_
