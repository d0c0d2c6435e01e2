// SPDX-License-Identifier: GPL-2.0-or-later
// The control socket's protocol, version 1: one framing for both directions.
//   request:  "KENSA/1 " command-line "\n", body lines, ".\n"
//   response: "KENSA/1 OK" [" " text] "\n" or "KENSA/1 ERR " text "\n", body lines, ".\n"
// Body lines are dot-stuffed (a line that starts with "." gets another one), so the end marker
// is unambiguous and any text travels. A line may end in "\r\n"; the "\r" is dropped. Every
// limit is a named constant below; past one the reader stops with an error and reads no more.
#ifndef KENSA_CONTROL_CONTROL_PROTOCOL_H_
#define KENSA_CONTROL_CONTROL_PROTOCOL_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kensa::control {

inline constexpr std::string_view kProtocolTag = "KENSA/1";
// One line of either direction (the head or a body line), without its line end.
inline constexpr size_t kMaxLineBytes = 64 * 1024;
// A whole request: the command line and its body (a subscriber import's CSV).
inline constexpr size_t kMaxRequestBytes = 16 << 20;
// A whole response; a longer listing is cut by the daemon and says so on its last line.
inline constexpr size_t kMaxResponseBytes = 16 << 20;

// One framed message: the head line without "KENSA/1 " and the body lines, unstuffed.
struct Frame {
  std::string head;
  std::vector<std::string> body;
};

// Builds the bytes of a frame. The head must be one line (no "\n" or "\r").
std::string EncodeFrame(std::string_view head, const std::vector<std::string>& body);
// The same with the body given as text; its lines are split at "\n" (a final "\n" ends the
// last line, it does not add an empty one).
std::string EncodeFrameText(std::string_view head, std::string_view body_text);

// Incremental reader of one frame. Append() what arrives, then Next(): kNeedMore until the end
// marker, then kDone once (frame() holds it); kError is sticky (error() says why).
class FrameReader {
 public:
  enum class Result { kNeedMore, kDone, kError };
  explicit FrameReader(size_t max_total_bytes) : max_total_(max_total_bytes) {}

  void Append(std::string_view bytes);
  Result Next();
  const Frame& frame() const { return frame_; }
  Frame TakeFrame() { return std::move(frame_); }
  const std::string& error() const { return error_; }
  // Bytes held that are not yet a complete line.
  size_t buffered() const { return buffer_.size(); }

 private:
  Result Fail(std::string why);
  size_t max_total_;
  size_t total_ = 0;
  std::string buffer_;
  bool have_head_ = false;
  bool done_ = false;
  Frame frame_;
  std::string error_;
};

// A response head: "OK" / "OK text" / "ERR text".
struct ResponseHead {
  bool ok = false;
  std::string text;
};
bool ParseResponseHead(std::string_view head, ResponseHead* out);

}  // namespace kensa::control

#endif  // KENSA_CONTROL_CONTROL_PROTOCOL_H_
