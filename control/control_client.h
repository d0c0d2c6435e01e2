// SPDX-License-Identifier: GPL-2.0-or-later
// The client end of the control socket: one request, one response, one connection.
#ifndef KENSA_CONTROL_CONTROL_CLIENT_H_
#define KENSA_CONTROL_CONTROL_CLIENT_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kensa::control {

struct Response {
  bool ok = false;
  std::string message;
  std::vector<std::string> lines;
};

// Unavailable when kensad cannot be reached or the answer is cut or malformed (a transport
// failure); a command that kensad refused is an OK status holding a Response with ok false.
absl::StatusOr<Response> SendCommand(const std::string& socket_path, std::string_view command_line,
                                     const std::vector<std::string>& body, absl::Duration timeout);

}  // namespace kensa::control

#endif  // KENSA_CONTROL_CONTROL_CLIENT_H_
