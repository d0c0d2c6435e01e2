// SPDX-License-Identifier: GPL-2.0-or-later
#include "control/control_protocol.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kensa::control {

std::string EncodeFrame(std::string_view head, const std::vector<std::string>& body) {
  std::string out = std::string(kProtocolTag) + " " + std::string(head) + "\n";
  for (const std::string& line : body) {
    if (!line.empty() && line[0] == '.') out += '.';
    out += line;
    out += '\n';
  }
  out += ".\n";
  return out;
}

std::string EncodeFrameText(std::string_view head, std::string_view body_text) {
  std::vector<std::string> lines;
  while (!body_text.empty()) {
    const size_t nl = body_text.find('\n');
    lines.emplace_back(body_text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    body_text.remove_prefix(nl + 1);
  }
  return EncodeFrame(head, lines);
}

void FrameReader::Append(std::string_view bytes) {
  if (done_ || !error_.empty()) return;
  total_ += bytes.size();
  buffer_.append(bytes.data(), bytes.size());
}

FrameReader::Result FrameReader::Fail(std::string why) {
  error_ = std::move(why);
  buffer_.clear();
  frame_ = Frame{};
  return Result::kError;
}

FrameReader::Result FrameReader::Next() {
  if (!error_.empty()) return Result::kError;
  if (done_) return Result::kNeedMore;
  if (total_ > max_total_) {
    return Fail(absl::StrCat("message longer than ", max_total_, " bytes"));
  }
  size_t start = 0;
  Result result = Result::kNeedMore;
  while (true) {
    const size_t nl = buffer_.find('\n', start);
    if (nl == std::string::npos) {
      if (buffer_.size() - start > kMaxLineBytes + 1) {
        return Fail(absl::StrCat("line longer than ", kMaxLineBytes, " bytes"));
      }
      break;
    }
    std::string_view line(buffer_.data() + start, nl - start);
    start = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxLineBytes) {
      return Fail(absl::StrCat("line longer than ", kMaxLineBytes, " bytes"));
    }
    if (line.find('\0') != std::string_view::npos) return Fail("NUL byte in a line");
    if (!have_head_) {
      if (!line.starts_with(kProtocolTag)) return Fail("not a KENSA/1 message");
      std::string_view rest = line.substr(kProtocolTag.size());
      if (!rest.empty() && rest[0] != ' ') {
        return Fail(absl::StrCat("unsupported protocol \"", std::string(line.substr(0, 16)), "\""));
      }
      if (!rest.empty()) rest.remove_prefix(1);
      frame_.head = std::string(rest);
      have_head_ = true;
      continue;
    }
    if (line == ".") {
      done_ = true;
      result = Result::kDone;
      break;
    }
    if (!line.empty() && line[0] == '.') line.remove_prefix(1);
    frame_.body.emplace_back(line);
  }
  buffer_.erase(0, start);
  if (result == Result::kDone && !buffer_.empty()) {
    return Fail("bytes after the end of the message");
  }
  return result;
}

bool ParseResponseHead(std::string_view head, ResponseHead* out) {
  if (head == "OK") {
    *out = {true, ""};
    return true;
  }
  if (head.starts_with("OK ")) {
    *out = {true, std::string(head.substr(3))};
    return true;
  }
  if (head.starts_with("ERR ") && head.size() > 4) {
    *out = {false, std::string(head.substr(4))};
    return true;
  }
  return false;
}

}  // namespace kensa::control
