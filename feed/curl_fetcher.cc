// SPDX-License-Identifier: GPL-2.0-or-later
// CurlFetcher: libcurl's easy interface on the updater's thread (it blocks; never a reactor).
// The size limit is enforced twice: CURLOPT_MAXFILESIZE refuses a Content-Length over it
// before any byte is read, and the write callback refuses the byte that crosses it (a chunked
// body, or a server that lies about its length).
#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "feed/fetcher.h"

namespace kensa::feed {
namespace {

struct Transfer {
  int fd = -1;
  uint64_t bytes = 0;
  uint64_t max_bytes = 0;
  bool over_limit = false;
  int write_errno = 0;
  const std::atomic<bool>* cancel = nullptr;
  std::string etag, last_modified;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  Transfer& t = *static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (t.bytes + len > t.max_bytes) {
    t.over_limit = true;
    return 0;  // curl stops with CURLE_WRITE_ERROR
  }
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(t.fd, data + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      t.write_errno = w < 0 ? errno : EIO;
      return 0;
    }
    done += static_cast<size_t>(w);
  }
  t.bytes += len;
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  Transfer& t = *static_cast<Transfer*>(user);
  absl::string_view line(data, size * n);
  if (absl::StartsWith(line, "HTTP/")) {  // a new response (after a redirect): forget the old
    t.etag.clear();
    t.last_modified.clear();
  }
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return size * n;
  absl::string_view name = line.substr(0, colon);
  absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
  if (absl::EqualsIgnoreCase(name, "ETag")) t.etag = std::string(value);
  if (absl::EqualsIgnoreCase(name, "Last-Modified")) t.last_modified = std::string(value);
  return size * n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const Transfer& t = *static_cast<const Transfer*>(user);
  return t.cancel != nullptr && t.cancel->load() ? 1 : 0;
}

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

absl::Status FsyncParent(const std::string& path) {
  std::string dir = path.substr(0, path.rfind('/'));
  if (dir.empty()) dir = "/";
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", dir, ": ", std::strerror(errno)));
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("fsync ", dir, ": ", std::strerror(err)));
  return absl::OkStatus();
}

}  // namespace

CurlFetcher::CurlFetcher() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

absl::StatusOr<FetchResult> CurlFetcher::Fetch(const FetchRequest& r) {
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  const std::string part = absl::StrCat(r.dest_path, ".part");
  Transfer t;
  t.max_bytes = r.max_bytes;
  t.cancel = r.cancel;
  t.fd = open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (t.fd < 0) {
    return absl::InternalError(absl::StrCat("open ", part, ": ", std::strerror(errno)));
  }
  std::unique_ptr<curl_slist, SlistFree> headers;
  auto add_header = [&headers](const std::string& h) {
    curl_slist* l = curl_slist_append(headers.get(), h.c_str());
    if (l != nullptr) {
      (void)headers.release();
      headers.reset(l);
    }
  };
  if (!r.etag.empty()) add_header(absl::StrCat("If-None-Match: ", r.etag));
  if (!r.last_modified.empty()) add_header(absl::StrCat("If-Modified-Since: ", r.last_modified));

  char error[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(r.connect_timeout)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(r.transfer_timeout)));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(r.max_bytes));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "kensa-updater");

  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);

  absl::Status failure;
  if (rc == CURLE_FILESIZE_EXCEEDED || t.over_limit) {
    failure = absl::ResourceExhaustedError(
        absl::StrCat("download over max_download_bytes (", r.max_bytes, ")"));
  } else if (t.write_errno != 0) {
    failure = absl::InternalError(absl::StrCat("write ", part, ": ", std::strerror(t.write_errno)));
  } else if (rc == CURLE_OPERATION_TIMEDOUT) {
    failure = absl::DeadlineExceededError(absl::StrCat(
        "timed out (connect_timeout ", absl::FormatDuration(r.connect_timeout),
        ", transfer_timeout ", absl::FormatDuration(r.transfer_timeout), "): ", error));
  } else if (rc == CURLE_ABORTED_BY_CALLBACK) {
    failure = absl::CancelledError("stopped");
  } else if (rc == CURLE_PARTIAL_FILE) {
    failure = absl::DataLossError(absl::StrCat("truncated download: ", error));
  } else if (rc != CURLE_OK) {
    failure = absl::UnavailableError(
        absl::StrCat(curl_easy_strerror(rc), error[0] != '\0' ? ": " : "", error));
  } else if (status != 200 && status != 304) {
    failure = absl::UnavailableError(absl::StrCat("HTTP ", status));
  }
  if (failure.ok() && status == 200 && fsync(t.fd) != 0) {
    failure = absl::InternalError(absl::StrCat("fsync ", part, ": ", std::strerror(errno)));
  }
  close(t.fd);
  if (!failure.ok() || status == 304) {
    unlink(part.c_str());
    if (!failure.ok()) return failure;
    FetchResult not_modified;
    not_modified.not_modified = true;
    not_modified.etag = r.etag;
    not_modified.last_modified = r.last_modified;
    return not_modified;
  }
  if (rename(part.c_str(), r.dest_path.c_str()) != 0) {
    int err = errno;
    unlink(part.c_str());
    return absl::InternalError(absl::StrCat("rename to ", r.dest_path, ": ", std::strerror(err)));
  }
  if (absl::Status s = FsyncParent(r.dest_path); !s.ok()) return s;
  FetchResult out;
  out.etag = t.etag;
  out.last_modified = t.last_modified;
  out.bytes = t.bytes;
  return out;
}

}  // namespace kensa::feed
