// SPDX-License-Identifier: GPL-2.0-or-later
#include "sigs/file_type_triggers.h"

#include <cctype>
#include <string>

#include "core/text_fields.h"

namespace kensa::sigs {

const std::vector<FileTypeTrigger>& BuiltinFileTypeTriggers() {
  static const std::vector<FileTypeTrigger> kTriggers = [] {
    std::vector<FileTypeTrigger> t;
    for (std::string_view hex : {
      // HTML data, anywhere: <A HREF, <HEAD>, <HTML>, <IFRAME, <IMG, <OBJECT, <SCRIPT, <TABLE
      // in the spellings libclamav knows.
      "3c4120*(68|48)(72|52)4546", "3c4120*(68|48)(72|52)6566", "3c484541443e", "3c48544d4c3e",
      "3c486561643e", "3c48746d6c3e", "3c494652414d45", "3c494d47", "3c496d67",
      "3c4f424a454354", "3c4f626a656374", "3c534352495054", "3c536372697074", "3c5441424c45",
      "3c6120*(68|48)(72|52)4546", "3c6120*(68|48)(72|52)6566", "3c686561643e", "3c68746d6c3e",
      "3c696672616d65", "3c696d67", "3c6f626a656374", "3c736372697074", "3c7461626c65",
      "3c2540204c414e4755414745203d",
      // PDF, anywhere: %PDF-?. and %pdf-?.
      "255044462d??2e", "257064662d??2e",
        }) {
      t.push_back({hex, false});
    }
    for (std::string_view hex : {
      // Mail headers near the start: From:, MIME-Version:, Content-Type:, Message-Id:,
      // Received:.
      "0a(46|66)726f6d3a20{-1024}0a(4d|6d)(49|69)(4d|6d)(45|65)2d(56|76)657273696f6e3a20",
      "0a(46|66)726f6d3a20{-2048}0a(43|63)6f6e74656e742d(54|74)7970653a20",
      "0a(4d|6d)(49|69)(4d|6d)(45|65)2d(56|76)657273696f6e3a20{-2048}0a(43|63)6f6e74656e742d(54|74)7970653a20",
      "0a(4d|6d)6573736167652d(49|69)643a20{-1024}0a(43|63)6f6e74656e742d(54|74)7970653a20",
      "0a(52|72)656365697665643a20{-2048}0a(43|63)6f6e74656e742d(54|74)7970653a20",
        }) {
      t.push_back({hex, true});
    }
    return t;
  }();
  return kTriggers;
}

bool FileTypeTriggerOfFtmLine(std::string_view line, std::string* hex, bool* mail) {
  std::vector<std::string_view> f = SplitFields(line, ':');
  if (f.size() < 6 || f[0] != "1") return false;  // kind 0 only types a layer by its start
  const std::string_view type = f[5];
  const bool trigger = type.substr(0, 12) == "CL_TYPE_HTML" || type == "CL_TYPE_PDF" ||
                       type == "CL_TYPE_MAIL" || type == "CL_TYPE_SCRIPT";
  if (trigger) {
    *hex = std::string(f[2]);
    *mail = type == "CL_TYPE_MAIL";
  }
  return trigger;
}

bool FtmLineMayReadText(std::string_view line) {
  std::vector<std::string_view> f = SplitFields(line, ':');
  if (f.size() < 6 || (f[0] != "0" && f[0] != "1")) return false;
  std::string unused;
  bool mail = false;
  if (FileTypeTriggerOfFtmLine(line, &unused, &mail)) return false;  // the triggers' own check
  // Two hex digits in a row are a fixed byte; wildcards, ranges and alternatives are not.
  const std::string_view hex = f[2];
  auto digit = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  for (size_t i = 0; i + 1 < hex.size(); ++i) {
    if (!digit(hex[i]) || !digit(hex[i + 1])) continue;
    const int byte = std::stoi(std::string(hex.substr(i, 2)), nullptr, 16);
    if (byte < 0x20 || byte == 0x7f) return false;
    ++i;
  }
  return true;
}

}  // namespace kensa::sigs
