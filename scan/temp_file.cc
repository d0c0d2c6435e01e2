// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/temp_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace kensa::scan {

absl::StatusOr<int> OpenUnlinkedTempFile(const std::string& dir) {
  int fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::string templ = absl::StrCat(dir, "/kensa-scan-XXXXXX");
    fd = mkostemp(templ.data(), O_CLOEXEC);
    if (fd >= 0) unlink(templ.c_str());
  }
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("temporary file in ", dir, ": ", std::strerror(errno)));
  }
  return fd;
}

absl::Status WriteAllToTempFile(int fd, std::string_view bytes, const std::string& dir) {
  while (!bytes.empty()) {
    ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::InternalError(absl::StrCat("temporary file in ", dir, ": ",
                                              std::strerror(n < 0 ? errno : ENOSPC)));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace kensa::scan
