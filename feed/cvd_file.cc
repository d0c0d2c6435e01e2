// SPDX-License-Identifier: GPL-2.0-or-later
#include "feed/cvd_file.h"

#include <clamav.h>

#include "absl/strings/str_cat.h"
#include "scan/clam_engine.h"

namespace kensa::feed {

absl::StatusOr<CvdHeader> ReadCvdHeader(const std::string& path) {
  cl_cvd* head = cl_cvdhead(path.c_str());
  if (head == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a CVD file (no valid header)"));
  }
  CvdHeader h;
  h.version = head->version;
  h.signatures = head->sigs;
  h.build_time = head->stime;
  cl_cvdfree(head);
  if (h.version == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": CVD header without a version"));
  }
  return h;
}

absl::Status VerifyCvd(const std::string& path) {
  if (absl::Status s = scan::InitLibclamav(); !s.ok()) return s;
  const cl_error_t r = cl_cvdverify(path.c_str());
  if (r != CL_SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": libclamav refuses the CVD: ", cl_strerror(r)));
  }
  return absl::OkStatus();
}

}  // namespace kensa::feed
