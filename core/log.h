// SPDX-License-Identifier: GPL-2.0-or-later
// Structured logs: one line per event, "2026-12-01T21:14:12.123456Z info event=message id=..
// client=..", key=value pairs with values quoted when they need it, so a line can be grepped
// and parsed like Postfix's. A line is written with one write(2), so lines from different
// reactors never interleave. The file is reopened on SIGHUP (log rotation).
#ifndef KENSA_CORE_LOG_H_
#define KENSA_CORE_LOG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kensa {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

struct LogOptions {
  std::string file;  // empty: stderr
  LogLevel min_level = LogLevel::kInfo;
};

// Before InitLog, lines go to stderr at level info and above.
absl::Status InitLog(const LogOptions& options);
absl::Status ReopenLog();
// A configuration reload changes the level while every thread logs.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// "debug" | "info" | "warning" | "error" (the configuration's names); anything else is info.
LogLevel LogLevelNamed(std::string_view name);

// Builds one line; the destructor writes it. Values are quoted when they contain spaces,
// quotes, '=' or control bytes (which are escaped), so client-supplied text cannot forge keys.
class LogLine {
 public:
  LogLine(LogLevel level, std::string_view event);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  LogLine& Kv(std::string_view key, std::string_view value);
  LogLine& Kv(std::string_view key, const char* value) { return Kv(key, std::string_view(value)); }
  LogLine& Kv(std::string_view key, const std::string& value) {
    return Kv(key, std::string_view(value));
  }
  LogLine& Kv(std::string_view key, absl::string_view value) {
    return Kv(key, std::string_view(value.data(), value.size()));
  }
  LogLine& Kv(std::string_view key, int64_t value);
  LogLine& Kv(std::string_view key, int value) { return Kv(key, int64_t{value}); }
  LogLine& Kv(std::string_view key, unsigned value) { return Kv(key, uint64_t{value}); }
  LogLine& Kv(std::string_view key, uint64_t value);
  LogLine& Kv(std::string_view key, double value);
  LogLine& Kv(std::string_view key, bool value);
  LogLine& Kv(std::string_view key, absl::Duration value);
  LogLine& Kv(std::string_view key, const absl::Status& value);

 private:
  // A value that never needs quoting (numbers, durations, booleans).
  LogLine& Raw(std::string_view key, const std::string& text);
  bool enabled_;
  std::string line_;
};

#define KLOG(level, event) ::kensa::LogLine(::kensa::LogLevel::level, event)

}  // namespace kensa

#endif  // KENSA_CORE_LOG_H_
