// SPDX-License-Identifier: GPL-2.0-or-later
// libclamav's built-in file-type entries, in .ftm syntax
// ("kind:offset:hex:name:required_type:detected_type[:min_flevel[:max_flevel]]"). With the
// entries of a set's own .ftm files they are everything libclamav types an object by
// (scan/file_type_table.h).
#ifndef KENSA_SIGS_BUILTIN_FILE_TYPES_H_
#define KENSA_SIGS_BUILTIN_FILE_TYPES_H_

#include <string_view>
#include <vector>

namespace kensa::sigs {

const std::vector<std::string_view>& BuiltinFileTypeEntries();

}  // namespace kensa::sigs

#endif  // KENSA_SIGS_BUILTIN_FILE_TYPES_H_
