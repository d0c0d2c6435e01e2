// SPDX-License-Identifier: GPL-2.0-or-later
// ArchiveWriter: writes a bundle archive (pax-restricted tar, i.e. ustar unless a name needs
// more, compressed with gzip without a timestamp) to a temporary file beside the target, and
// on Commit fsyncs it, renames it into place and fsyncs the directory. Members are regular
// files, mode 0644, owner 0:0, mtime the bundle's creation time: the same input gives the
// same bytes. Dropped without Commit, it removes the temporary file.
#ifndef KENSA_FEED_ARCHIVE_WRITER_H_
#define KENSA_FEED_ARCHIVE_WRITER_H_

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct archive;

namespace kensa::feed {

class ArchiveWriter {
 public:
  static absl::StatusOr<std::unique_ptr<ArchiveWriter>> Create(const std::string& path,
                                                               time_t mtime);
  ~ArchiveWriter();

  absl::Status Begin(std::string_view name, uint64_t size);
  absl::Status Write(std::string_view data);
  absl::Status AddFile(std::string_view name, std::string_view data);  // Begin + Write
  absl::Status AddFileFrom(std::string_view name, const std::string& source_path, uint64_t size);
  absl::Status Commit();

 private:
  ArchiveWriter(std::string path, std::string temp_path, int fd, archive* a, time_t mtime)
      : path_(std::move(path)),
        temp_path_(std::move(temp_path)),
        fd_(fd),
        archive_(a),
        mtime_(mtime) {}
  std::string Error() const;

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  archive* archive_ = nullptr;
  time_t mtime_ = 0;
  bool committed_ = false;
};

}  // namespace kensa::feed

#endif  // KENSA_FEED_ARCHIVE_WRITER_H_
