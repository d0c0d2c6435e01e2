// SPDX-License-Identifier: GPL-2.0-or-later
// The embedded default's TLS certificate: created once in the state directory so STARTTLS and
// implicit TLS work out of the box. An existing pair is left alone.
#ifndef KENSA_NET_SELF_SIGNED_CERT_H_
#define KENSA_NET_SELF_SIGNED_CERT_H_

#include <string>

#include "absl/status/status.h"

namespace kensa::net {

// Writes a self-signed certificate (EC P-256, 10 years, CN and DNS SAN = hostname) and its key
// (mode 0600) when cert_file does not exist yet.
absl::Status EnsureSelfSignedCertificate(const std::string& cert_file,
                                         const std::string& key_file,
                                         const std::string& hostname);

}  // namespace kensa::net

#endif  // KENSA_NET_SELF_SIGNED_CERT_H_
