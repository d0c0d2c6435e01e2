// SPDX-License-Identifier: GPL-2.0-or-later
// A scratch directory for the subscribers tests, under $TMPDIR (or /tmp), removed with its
// contents when the test ends.
#ifndef KENSA_SUBSCRIBERS_TEST_DIR_H_
#define KENSA_SUBSCRIBERS_TEST_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace kensa::subscribers {

class TestDir {
 public:
  TestDir() {
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                       "/kensa-subscribers-test.XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TestDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace kensa::subscribers

#endif  // KENSA_SUBSCRIBERS_TEST_DIR_H_
