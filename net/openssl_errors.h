// SPDX-License-Identifier: GPL-2.0-or-later
// The thread's OpenSSL error queue as text, for error statuses that name the real cause.
#ifndef KENSA_NET_OPENSSL_ERRORS_H_
#define KENSA_NET_OPENSSL_ERRORS_H_

#include <string>

namespace kensa::net {

// Drains the queue into one line ("error:8000000D:system library::Permission denied; ..."),
// so no stale entry is left for the next caller on this thread. Empty when the queue was.
std::string DrainOpenSslErrors();

// The same, or "unknown OpenSSL error" when the queue was empty.
std::string DescribeOpenSslFailure();

}  // namespace kensa::net

#endif  // KENSA_NET_OPENSSL_ERRORS_H_
