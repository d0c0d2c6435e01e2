// SPDX-License-Identifier: GPL-2.0-or-later
// ClamAV's CVD files (main.cvd, daily.cvd, bytecode.cvd) as an ISP's private mirror serves
// them: a 512-byte "ClamAV-VDB:time:version:sigs:flevel:md5:dsig:builder:stime" header, then
// a tar.gz body. Both checks are libclamav's own: the header through cl_cvdhead, and the
// whole file (the body's MD5 against the header, the header's digital signature against
// ClamAV's key built into libclamav, the databases loading) through cl_cvdverify.
#ifndef KENSA_FEED_CVD_FILE_H_
#define KENSA_FEED_CVD_FILE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kensa::feed {

struct CvdHeader {
  uint64_t version = 0;     // increases with every release of that database
  uint64_t signatures = 0;  // as the header claims
  int64_t build_time = 0;   // Unix seconds; 0 when the header has none
};

// The header of a CVD file; an error when it is not one.
absl::StatusOr<CvdHeader> ReadCvdHeader(const std::string& path);

// cl_cvdverify: OK only for a complete file signed by ClamAV's key. It loads the file into a
// throwaway engine, so it costs that database's memory while it runs (one file at a time).
absl::Status VerifyCvd(const std::string& path);

// How a mirror feed verifies a CVD: VerifyCvd; tests give a fake, because a CVD that passes
// cl_cvdverify cannot be made without ClamAV's private key.
using CvdVerifier = std::function<absl::Status(const std::string& path)>;

}  // namespace kensa::feed

#endif  // KENSA_FEED_CVD_FILE_H_
