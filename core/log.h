// SPDX-License-Identifier: GPL-2.0-or-later
// PLACEHOLDER until wip/config lands (same interface).
#ifndef KENSA_CORE_LOG_H_
#define KENSA_CORE_LOG_H_
#include <cstdio>
#include <string>
#include <string_view>
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
namespace kensa {
enum class LogLevel { kDebug, kInfo, kWarning, kError };
class LogLine {
 public:
  LogLine(LogLevel level, std::string_view event) { line_ = absl::StrCat("event=", std::string(event)); }
  LogLine& Kv(std::string_view k, std::string_view v) { absl::StrAppend(&line_, " ", std::string(k), "=\"", std::string(v), "\""); return *this; }
  LogLine& Kv(std::string_view k, const char* v) { return Kv(k, std::string_view(v)); }
  LogLine& Kv(std::string_view k, const std::string& v) { return Kv(k, std::string_view(v)); }
  LogLine& Kv(std::string_view k, int64_t v) { absl::StrAppend(&line_, " ", std::string(k), "=", v); return *this; }
  LogLine& Kv(std::string_view k, int v) { return Kv(k, int64_t{v}); }
  LogLine& Kv(std::string_view k, uint64_t v) { absl::StrAppend(&line_, " ", std::string(k), "=", v); return *this; }
  LogLine& Kv(std::string_view k, double v) { absl::StrAppend(&line_, " ", std::string(k), "=", v); return *this; }
  LogLine& Kv(std::string_view k, bool v) { absl::StrAppend(&line_, " ", std::string(k), "=", v ? "true" : "false"); return *this; }
  LogLine& Kv(std::string_view k, absl::Duration v) { absl::StrAppend(&line_, " ", std::string(k), "=", absl::FormatDuration(v)); return *this; }
  LogLine& Kv(std::string_view k, const absl::Status& v) { return Kv(k, v.ToString()); }
  ~LogLine() { fprintf(stderr, "%s\n", line_.c_str()); }
 private:
  std::string line_;
};
#define KLOG(level, event) ::kensa::LogLine(::kensa::LogLevel::level, event)
}  // namespace kensa
#endif
