// SPDX-License-Identifier: GPL-2.0-or-later
// HashSignatureSet: every whole-object hash signature of a signature set (.hdb/.hsb: MD5,
// SHA-1, SHA-256, each with the object size or any size), for the prefilter's question "could
// a hash signature match this part?". Sizes are checked first: a digest is only computed for a
// part whose size some signature names (or when a signature takes any size).
#ifndef KENSA_SCAN_HASH_SIGNATURE_SET_H_
#define KENSA_SCAN_HASH_SIGNATURE_SET_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"

namespace kensa::scan {

enum class HashKind : uint8_t { kMd5, kSha1, kSha256 };
inline constexpr size_t kHashKinds = 3;

class HashSignatureSet {
 public:
  // `digest` is the raw digest (16, 20 or 32 bytes); nullopt size means any size.
  void Add(HashKind kind, std::optional<uint64_t> size, std::string_view digest);

  // Whether any signature of `kind` could match an object of `size` (before hashing it).
  bool Wants(HashKind kind, uint64_t size) const;
  bool Contains(HashKind kind, uint64_t size, std::string_view digest) const;
  size_t size() const { return count_; }

  // The set as bytes, for the prefilter's cache of derived inputs; Read fails (changing
  // nothing it returns) on bytes it did not write.
  void AppendTo(std::string* out) const;
  static absl::StatusOr<HashSignatureSet> Read(std::string_view* in);

 private:
  // size (8 bytes, little endian) then the digest, zero padded to 32 bytes.
  using Key = std::array<uint8_t, 40>;
  static Key MakeKey(uint64_t size, std::string_view digest);

  absl::flat_hash_set<Key> exact_[kHashKinds];
  absl::flat_hash_set<Key> any_size_[kHashKinds];  // keyed with size 0
  absl::flat_hash_set<uint64_t> sizes_[kHashKinds];
  size_t count_ = 0;
};

}  // namespace kensa::scan

#endif  // KENSA_SCAN_HASH_SIGNATURE_SET_H_
