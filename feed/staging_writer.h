// SPDX-License-Identifier: GPL-2.0-or-later
// StagingWriter: the MemberSink that writes a bundle's database files into a staging
// directory. Durability: each file is fsync'd when it is complete (Finish) and the directory
// after the last (Commit), so a set that Commit returned OK for is on disk whole. A failure
// at any point is undone with RemoveAll: the files written are unlinked (and the directory,
// if Open created it), so nobody ever finds a partial set.
#ifndef KENSA_FEED_STAGING_WRITER_H_
#define KENSA_FEED_STAGING_WRITER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "feed/bundle_reader.h"

namespace kensa::feed {

class StagingWriter : public MemberSink {
 public:
  // Creates dir with mode 0700 (and fsyncs its parent), or opens it if it is an empty
  // directory already.
  static absl::StatusOr<std::unique_ptr<StagingWriter>> Open(const std::string& dir);
  ~StagingWriter() override;

  absl::Status Begin(const ManifestFile& file) override;
  absl::Status Write(std::string_view chunk) override;
  absl::Status Finish(const ManifestFile& file) override;

  absl::Status Commit();  // fsyncs the directory
  void RemoveAll();

 private:
  StagingWriter(std::string dir, int dir_fd, bool created)
      : dir_(std::move(dir)), dir_fd_(dir_fd), created_(created) {}
  absl::Status Error(std::string_view what, int err) const;

  std::string dir_;
  int dir_fd_ = -1;
  bool created_ = false;
  int file_fd_ = -1;
  std::string file_name_;
  std::vector<std::string> written_;
};

}  // namespace kensa::feed

#endif  // KENSA_FEED_STAGING_WRITER_H_
