// SPDX-License-Identifier: GPL-2.0-or-later
// libclamav's file-type triggers: the file-type signatures it looks for anywhere in a layer
// while it matches that layer's bytes (HTML tags, an embedded PDF, mail headers). When one
// occurs, libclamav goes on to normalise the layer as HTML, parse an embedded PDF, or match the
// layer with mail signatures — work the probe is not shown as layers of their own. The
// prefilter compiles these patterns with the signatures' literals and never clears a layer in
// which one occurs.
//
// The built-in list is libclamav 1.4's own (its filetypes_int.h entries of kind 1 whose type is
// HTML, PDF or mail); a set's .ftm files add their entries of those types.
#ifndef KENSA_SIGS_FILE_TYPE_TRIGGERS_H_
#define KENSA_SIGS_FILE_TYPE_TRIGGERS_H_

#include <string>
#include <string_view>
#include <vector>

namespace kensa::sigs {

struct FileTypeTrigger {
  std::string_view hex;  // ClamAV body-signature syntax
  bool mail = false;     // detects mail (CL_TYPE_MAIL), not HTML, PDF or a script
};

// The built-in triggers.
const std::vector<FileTypeTrigger>& BuiltinFileTypeTriggers();

// Whether a .ftm line ("kind:offset:hex:name:required_type:detected_type[:flevels]") is a
// trigger; if so, its hex pattern goes to *hex and whether it detects mail to *mail.
bool FileTypeTriggerOfFtmLine(std::string_view line, std::string* hex, bool* mail);

// Whether a .ftm line could type or unpack text (printable ASCII, tab, UTF-8) other than
// through a trigger: an entry, of either kind, none of whose fixed bytes is a control byte.
// libclamav's built-in entries all hold one; a set's own may not.
bool FtmLineMayReadText(std::string_view line);

}  // namespace kensa::sigs

#endif  // KENSA_SIGS_FILE_TYPE_TRIGGERS_H_
