// SPDX-License-Identifier: GPL-2.0-or-later
#include "core/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace kensa {
namespace {

std::atomic<int> g_fd{STDERR_FILENO};
std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_reopen_mu;  // InitLog/ReopenLog only; writers read g_fd without a lock
std::string g_path;

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "info";
}

bool NeedsQuoting(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= 0x20 || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

void AppendValue(std::string* out, std::string_view v) {
  if (!NeedsQuoting(v)) {
    out->append(v);
    return;
  }
  out->push_back('"');
  for (unsigned char c : v) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(out, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

// absl::string_view is not std::string_view in Debian's Abseil build: append by hand.
void AppendKey(std::string* out, std::string_view key) {
  out->push_back(' ');
  out->append(key);
  out->push_back('=');
}

absl::StatusOr<int> OpenLogFile(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return absl::InternalError(absl::StrCat("open log ", path, ": ", strerror(errno)));
  return fd;
}

}  // namespace

absl::Status InitLog(const LogOptions& options) {
  std::lock_guard<std::mutex> lock(g_reopen_mu);
  g_min_level = static_cast<int>(options.min_level);
  g_path = options.file;
  if (g_path.empty()) return absl::OkStatus();
  absl::StatusOr<int> fd = OpenLogFile(g_path);
  if (!fd.ok()) return fd.status();
  int old = g_fd.exchange(*fd);
  if (old != STDERR_FILENO) close(old);
  return absl::OkStatus();
}

absl::Status ReopenLog() {
  std::lock_guard<std::mutex> lock(g_reopen_mu);
  if (g_path.empty()) return absl::OkStatus();
  absl::StatusOr<int> fd = OpenLogFile(g_path);
  if (!fd.ok()) return fd.status();
  // dup2 swaps the file behind the same descriptor number atomically: a writer on another
  // thread never writes to a closed descriptor, nor to one the number was reused for.
  int rc = dup2(*fd, g_fd.load());
  int err = errno;
  close(*fd);
  if (rc < 0) return absl::InternalError(absl::StrCat("reopen log ", g_path, ": ", strerror(err)));
  return absl::OkStatus();
}

void SetLogLevel(LogLevel level) { g_min_level = static_cast<int>(level); }

LogLevel LogLevelNamed(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "warning") return LogLevel::kWarning;
  if (name == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_min_level.load(); }

LogLine::LogLine(LogLevel level, std::string_view event) : enabled_(LogEnabled(level)) {
  if (!enabled_) return;
  line_.reserve(256);
  absl::StrAppend(&line_,
                  absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone()),
                  " ", LevelName(level), " event=");
  AppendValue(&line_, event);
}

LogLine::~LogLine() {
  if (!enabled_) return;
  line_.push_back('\n');
  const char* p = line_.data();
  size_t left = line_.size();
  int fd = g_fd.load();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // nowhere to report a failing log; never block or crash for it
    p += n;
    left -= static_cast<size_t>(n);
  }
}

LogLine& LogLine::Kv(std::string_view key, std::string_view value) {
  if (!enabled_) return *this;
  AppendKey(&line_, key);
  AppendValue(&line_, value);
  return *this;
}

LogLine& LogLine::Raw(std::string_view key, const std::string& text) {
  if (!enabled_) return *this;
  AppendKey(&line_, key);
  line_ += text;
  return *this;
}

LogLine& LogLine::Kv(std::string_view key, int64_t value) { return Raw(key, absl::StrCat(value)); }

LogLine& LogLine::Kv(std::string_view key, uint64_t value) { return Raw(key, absl::StrCat(value)); }

LogLine& LogLine::Kv(std::string_view key, double value) { return Raw(key, absl::StrCat(value)); }

LogLine& LogLine::Kv(std::string_view key, bool value) { return Raw(key, value ? "true" : "false"); }

LogLine& LogLine::Kv(std::string_view key, absl::Duration value) {
  return Raw(key, absl::FormatDuration(value));
}

LogLine& LogLine::Kv(std::string_view key, const absl::Status& value) {
  if (!enabled_) return *this;
  return Kv(key, value.ok() ? std::string("ok") : std::string(value.message()));
}

}  // namespace kensa
