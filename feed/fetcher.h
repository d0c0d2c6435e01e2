// SPDX-License-Identifier: GPL-2.0-or-later
// Fetcher: one conditional HTTP(S) GET into a file. CurlFetcher is the real one (libcurl);
// the updater's tests give a fake. A download is written to `<dest>.part`, fsync'd and renamed
// to dest, so dest is either absent or the whole body the server sent.
#ifndef KENSA_FEED_FETCHER_H_
#define KENSA_FEED_FETCHER_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kensa::feed {

struct FetchRequest {
  std::string url;
  std::string dest_path;
  // Validators from the last 200 for this URL; sent as If-None-Match / If-Modified-Since.
  std::string etag;
  std::string last_modified;
  uint64_t max_bytes = 0;  // larger bodies are refused (Content-Length and while streaming)
  absl::Duration connect_timeout = absl::Seconds(30);
  absl::Duration transfer_timeout = absl::Minutes(10);
  const std::atomic<bool>* cancel = nullptr;  // set: the transfer stops at once
};

struct FetchResult {
  bool not_modified = false;  // 304: dest was not written
  std::string etag;           // of this response, for the next request
  std::string last_modified;
  uint64_t bytes = 0;
};

class Fetcher {
 public:
  virtual ~Fetcher() = default;
  // Any answer but 200 and 304, a timeout, a body over max_bytes or a short body is an error
  // that says which; dest is not left behind.
  virtual absl::StatusOr<FetchResult> Fetch(const FetchRequest& request) = 0;
};

class CurlFetcher : public Fetcher {
 public:
  CurlFetcher();  // curl_global_init, once per process
  absl::StatusOr<FetchResult> Fetch(const FetchRequest& request) override;
};

}  // namespace kensa::feed

#endif  // KENSA_FEED_FETCHER_H_
