// SPDX-License-Identifier: GPL-2.0-or-later
#include "scan/hash_signature_set.h"

#include <algorithm>
#include <cstring>

#include "scan/byte_record.h"

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

void HashSignatureSet::AppendTo(std::string* out) const {
  PutU64(out, count_);
  for (size_t i = 0; i < kHashKinds; ++i) {
    for (const absl::flat_hash_set<Key>* keys : {&exact_[i], &any_size_[i]}) {
      PutU64(out, keys->size());
      for (const Key& k : *keys) out->append(reinterpret_cast<const char*>(k.data()), k.size());
    }
    PutU64(out, sizes_[i].size());
    for (uint64_t size : sizes_[i]) PutU64(out, size);
  }
}

absl::StatusOr<HashSignatureSet> HashSignatureSet::Read(std::string_view* in) {
  HashSignatureSet set;
  uint64_t count = 0;
  if (!GetU64(in, &count)) return absl::DataLossError("hash set: truncated");
  set.count_ = count;
  for (size_t i = 0; i < kHashKinds; ++i) {
    for (absl::flat_hash_set<Key>* keys : {&set.exact_[i], &set.any_size_[i]}) {
      uint64_t n = 0;
      if (!GetU64(in, &n) || n > in->size() / sizeof(Key)) {
        return absl::DataLossError("hash set: truncated");
      }
      keys->reserve(n);
      for (uint64_t j = 0; j < n; ++j) {
        Key k;
        std::memcpy(k.data(), in->data(), k.size());
        in->remove_prefix(k.size());
        keys->insert(k);
      }
    }
    uint64_t n = 0;
    if (!GetU64(in, &n) || n > in->size() / 8) return absl::DataLossError("hash set: truncated");
    set.sizes_[i].reserve(n);
    for (uint64_t j = 0; j < n; ++j) {
      uint64_t size = 0;
      GetU64(in, &size);
      set.sizes_[i].insert(size);
    }
  }
  return set;
}

}  // namespace kensa::scan
