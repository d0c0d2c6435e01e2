// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/hash_signature_set.h"

#include <algorithm>

namespace kensa::scan {

HashSignatureSet::Key HashSignatureSet::MakeKey(uint64_t size, std::string_view digest) {
  Key k{};
  for (int i = 0; i < 8; ++i) k[i] = static_cast<uint8_t>(size >> (8 * i));
  std::copy_n(digest.begin(), std::min<size_t>(digest.size(), 32), k.begin() + 8);
  return k;
}

void HashSignatureSet::Add(HashKind kind, std::optional<uint64_t> size, std::string_view digest) {
  const size_t i = static_cast<size_t>(kind);
  if (size) {
    exact_[i].insert(MakeKey(*size, digest));
    sizes_[i].insert(*size);
  } else {
    any_size_[i].insert(MakeKey(0, digest));
  }
  ++count_;
}

bool HashSignatureSet::Wants(HashKind kind, uint64_t size) const {
  const size_t i = static_cast<size_t>(kind);
  return !any_size_[i].empty() || sizes_[i].contains(size);
}

bool HashSignatureSet::Contains(HashKind kind, uint64_t size, std::string_view digest) const {
  const size_t i = static_cast<size_t>(kind);
  return exact_[i].contains(MakeKey(size, digest)) || any_size_[i].contains(MakeKey(0, digest));
}

}  // namespace kensa::scan
