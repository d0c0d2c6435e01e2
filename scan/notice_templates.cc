// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/notice_templates.h"

#include "absl/strings/ascii.h"
#include "core/ascii_case.h"

namespace kensa::scan {

const NoticeWording& JapaneseWording() {
  static const NoticeWording kWording{
      .infected = "このメッセージの添付ファイルからウイルスが検出されたため、kensa が削除しました。",
      .unscannable =
          "このメッセージの添付ファイルはウイルス検査ができなかったため（{reason}）、"
          "ウイルスを含むファイルと同じ扱いとする設定に従い、kensa が削除しました。",
      .file_label = "ファイル名",
      .unnamed_file = "（名前なし）",
      .virus_label = "ウイルス名",
      .reason_label = "理由",
      .queue_id_label = "キューID",
      .host_label = "ホスト",
      .signatures_label = "ウイルス定義のバージョン",
      .closing = "元のファイルが必要な場合は、送信者またはメール管理者にお問い合わせください。",
  };
  return kWording;
}

const NoticeWording& EnglishWording() {
  static const NoticeWording kWording{
      .infected = "kensa removed an attachment from this message because it contained a virus.",
      .unscannable =
          "kensa removed an attachment from this message because it could not be scanned "
          "({reason}) and policy treats such attachments as infected.",
      .file_label = "File",
      .unnamed_file = "(no name)",
      .virus_label = "Virus",
      .reason_label = "Reason",
      .queue_id_label = "Queue ID",
      .host_label = "Host",
      .signatures_label = "Signatures",
      .closing = "If you need the original file, please contact the sender or your mail "
                 "administrator.",
  };
  return kWording;
}

ReasonWords DescribeUnscannable(std::string_view reason) {
  // Most specific first: the first entry whose prefix matches names the reason.
  struct Entry {
    std::string_view prefix;
    ReasonWords words;
  };
  static constexpr Entry kEntries[] = {
      {"Heuristics.Encrypted.PDF", {"暗号化された PDF 文書", "encrypted PDF document"}},
      {"Heuristics.Encrypted.", {"暗号化された圧縮ファイル", "encrypted archive"}},
      {"Heuristics.Limits.Exceeded.",
       {"検査できる大きさや入れ子の深さの上限を超えています", "too large or too deeply nested to scan"}},
      {"Heuristics.Broken.", {"ファイルが壊れています", "malformed file"}},
      {"Heuristics.Structured.", {"ファイルの構造が不正です", "malformed file"}},
      {"scan error", {"検査中にエラーが発生しました", "scan error"}},
  };
  for (const Entry& e : kEntries) {
    if (StartsWithNoCase(reason, e.prefix)) return e.words;
  }
  return {"検査できない内容です", "unscannable content"};
}

}  // namespace kensa::scan
