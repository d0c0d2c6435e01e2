// SPDX-License-Identifier: GPL-2.0-or-later
// kensa-subscriber-bench: the subscriber store's figures on one thread.
//   kensa-subscriber-bench [--subscribers N] [--lookups L] [--rounds R] [--kinds K,...]
//                          [--dir DIR] [--keep]
// Generates N subscribers as CSV (deterministic: ~94 % addresses over N/20 domains, 5 % plus
// addresses, domain defaults for one domain in ten), times ImportCsv into an empty store, the
// same file again (every row an update), ExportCsv, and then Lookup per recipient: a mix
// (40 % exact hits, 15 % hits after the plus tag is dropped, 15 % domain defaults, 30 % misses)
// and each kind alone, L lookups a round, median of R rounds. Prints a table and a last line
// "json {...}" for bench/subscribers_bench.sh.
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "subscribers/subscriber_store.h"

namespace kensa {
namespace {

using Clock = std::chrono::steady_clock;
using subscribers::SubscriberStore;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// splitmix64: the same data on every run and machine.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
};

const char* const kWords[] = {"taro",     "hanako",   "suzuki", "sato",  "ito",
                              "kato",     "mail",     "info",   "shop",  "office",
                              "k.yamada", "m_tanaka", "admin",  "family"};
const char* const kTlds[] = {"example.jp",  "example.ne.jp", "example.co.jp",
                             "example.com", "example.net",   "example.org"};

std::string Domain(uint64_t d) {
  return "mx" + std::to_string(d) + "." + kTlds[d % (sizeof(kTlds) / sizeof(kTlds[0]))];
}
std::string Local(uint64_t i) {
  return std::string(kWords[i % (sizeof(kWords) / sizeof(kWords[0]))]) + std::to_string(i);
}

struct Data {
  std::string csv;
  uint64_t addresses = 0, plus = 0, defaults = 0, domains = 0;
  // Recipients to look up, by kind, shuffled.
  std::map<std::string, std::vector<std::string>> lookups;
};

Data Generate(uint64_t n, uint64_t lookups_per_kind) {
  Data d;
  Rng rng{1};
  d.domains = std::max<uint64_t>(1, n / 20);
  d.defaults = n / 200;  // one domain in ten (domains divisible by 10 while they last)
  d.plus = n / 20;
  d.addresses = n - d.defaults - d.plus;
  d.csv.reserve(n * 48);
  d.csv += "address,inbound,outbound,action\n";
  const char* const kActions[] = {"default", "default",    "default",
                                  "remove",  "quarantine", "reject"};
  std::vector<std::string> plain;
  plain.reserve(d.addresses);
  auto row = [&](const std::string& key) {
    const uint64_t r = rng.Next();
    d.csv += key;
    d.csv += (r & 1) || (r & 2) ? ",on," : ",off,";  // most subscribe inbound
    d.csv += (r & 4) ? "on," : "off,";
    d.csv += kActions[(r >> 8) % 6];
    d.csv += '\n';
  };
  for (uint64_t i = 0; i < d.addresses; ++i) {
    std::string a = Local(i) + "@" + Domain(rng.Below(d.domains));
    row(a);
    plain.push_back(std::move(a));
  }
  for (uint64_t i = 0; i < d.plus; ++i) {
    row("p" + Local(i) + "+ml" + std::to_string(i % 97) + "@" + Domain(rng.Below(d.domains)));
  }
  const uint64_t defaults = std::min(d.defaults, d.domains);
  d.defaults = defaults;
  for (uint64_t j = 0; j < defaults; ++j) row("@" + Domain(j * (d.domains / defaults)));

  const uint64_t step = defaults == 0 ? 0 : d.domains / defaults;
  auto defaulted = [&](uint64_t dom) {
    return step != 0 && dom % step == 0 && dom / step < defaults;
  };
  std::vector<std::string>& exact = d.lookups["exact"];
  std::vector<std::string>& plus = d.lookups["plus"];
  std::vector<std::string>& domain = d.lookups["domain"];
  std::vector<std::string>& miss = d.lookups["miss"];
  // Unknown local parts are drawn like the stored ones (the same words, numbers past the
  // stored range), so a miss searches the whole tree as a hit does, not one corner of it.
  for (uint64_t k = 0; k < lookups_per_kind; ++k) {
    const std::string& a = plain[rng.Below(plain.size())];
    exact.push_back(k % 4 == 0 ? "<" + a + ">" : a);  // as RCPT TO gives it, sometimes
    const size_t at = a.find('@');
    plus.push_back(a.substr(0, at) + "+tag" + std::to_string(k % 13) + a.substr(at));
    uint64_t dom = rng.Below(d.domains);
    while (!defaulted(dom)) dom = rng.Below(d.domains);
    domain.push_back(Local(n + 2 * k) + "@" + Domain(dom));
    dom = rng.Below(d.domains);
    while (defaulted(dom)) dom = rng.Below(d.domains);
    miss.push_back(Local(n + 2 * k + 1) + "@" + Domain(dom));
  }
  // In random order: neighbouring keys one after the other would find their pages in cache.
  std::mt19937_64 shuffle(2);
  for (auto* v : {&exact, &plus, &domain, &miss}) std::shuffle(v->begin(), v->end(), shuffle);
  // The mix: 40 % exact, 15 % plus, 15 % domain default, 30 % misses.
  std::vector<std::string>& mix = d.lookups["mix"];
  for (uint64_t k = 0; k < lookups_per_kind; ++k) {
    const uint64_t r = rng.Below(100);
    const std::vector<std::string>& from = r < 40 ? exact : r < 55 ? plus : r < 70 ? domain : miss;
    mix.push_back(from[rng.Below(from.size())]);
  }
  return d;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

uint64_t DiskBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    struct stat st;
    if (stat(e.path().c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

int Run(int argc, char** argv) {
  uint64_t n = 1000000, lookups = 4000000;
  int rounds = 5;
  std::string dir, kinds_arg;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--subscribers" && i + 1 < argc)
      n = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--lookups" && i + 1 < argc)
      lookups = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--rounds" && i + 1 < argc)
      rounds = std::max(1, std::atoi(argv[++i]));
    else if (a == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else if (a == "--kinds" && i + 1 < argc)
      kinds_arg = argv[++i];
    else if (a == "--keep")
      keep = true;
    else {
      std::fprintf(stderr,
                   "usage: kensa-subscriber-bench [--subscribers N] [--lookups L] [--rounds R] "
                   "[--kinds mix,exact,plus,domain,miss] [--dir DIR] [--keep]\n");
      return 2;
    }
  }
  if (n < 200) n = 200;
  const bool made_dir = dir.empty();
  if (made_dir) {
    const char* tmp = getenv("TMPDIR");
    std::string t = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                    "/kensa-subscriber-bench.XXXXXX";
    if (mkdtemp(t.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = t;
  }
  const std::string db = dir + "/subscribers";
  std::error_code ec;
  std::filesystem::remove_all(db, ec);

  const uint64_t distinct = std::min<uint64_t>(lookups, 1000000);
  Clock::time_point t0 = Clock::now();
  Data data = Generate(n, distinct);
  const double gen_s = Seconds(t0, Clock::now());

  auto store = SubscriberStore::Open(db, subscribers::OpenMode::kReadWrite);
  if (!store.ok()) {
    std::fprintf(stderr, "kensa-subscriber-bench: %s\n",
                 std::string(store.status().message()).c_str());
    return 1;
  }
  auto import = [&](double* seconds) -> bool {
    std::istringstream in(data.csv);
    subscribers::ImportStats st;
    Clock::time_point a = Clock::now();
    absl::Status s = (*store)->ImportCsv(in, &st);
    *seconds = Seconds(a, Clock::now());
    if (!s.ok()) std::fprintf(stderr, "import: %s\n", std::string(s.message()).c_str());
    return s.ok();
  };
  double import_s = 0, reimport_s = 0;
  if (!import(&import_s) || !import(&reimport_s)) return 1;
  std::ostringstream exported;
  t0 = Clock::now();
  if (!(*store)->ExportCsv(exported).ok()) return 1;
  const double export_s = Seconds(t0, Clock::now());
  const uint64_t entries = (*store)->Count().value_or(0);
  const uint64_t disk = DiskBytes(db);

  // The lookups, each kind in rounds of `lookups`, cycling through its recipients.
  std::vector<std::string> kinds;
  for (const char* name : {"mix", "exact", "plus", "domain", "miss"}) {
    const std::string k = name;
    if (kinds_arg.empty() || ("," + kinds_arg + ",").find("," + k + ",") != std::string::npos) {
      kinds.push_back(k);
    }
  }
  if (!kinds_arg.empty()) {  // in the order given
    std::sort(kinds.begin(), kinds.end(), [&](const std::string& a, const std::string& b) {
      return kinds_arg.find(a) < kinds_arg.find(b);
    });
  }
  std::map<std::string, double> ns;
  std::map<std::string, double> found_share;
  std::map<std::string, std::vector<double>> per_round;
  for (const std::string& kind : kinds) {
    // The recipients back to back in one buffer, read in order: in kensad the address was
    // just parsed from RCPT TO and is in cache, so loading it must not be what is measured.
    std::string blob;
    std::vector<std::pair<uint32_t, uint32_t>> at;
    for (const std::string& a : data.lookups[kind]) {
      at.emplace_back(static_cast<uint32_t>(blob.size()), static_cast<uint32_t>(a.size()));
      blob += a;
    }
    auto recipient = [&](uint64_t k) {
      const auto [offset, size] = at[k % at.size()];
      return std::string_view(blob.data() + offset, size);
    };
    // A warm-up pass: the figures are for a store in the page cache, as on a running gateway.
    for (uint64_t k = 0; k < at.size(); ++k) (void)(*store)->Lookup(recipient(k));
    std::vector<double> r;
    uint64_t found = 0;
    for (int round = 0; round < rounds; ++round) {
      found = 0;
      Clock::time_point a = Clock::now();
      for (uint64_t k = 0; k < lookups; ++k) found += (*store)->Lookup(recipient(k)).has_value();
      r.push_back(Seconds(a, Clock::now()) * 1e9 / static_cast<double>(lookups));
    }
    per_round[kind] = r;
    ns[kind] = Median(r);
    found_share[kind] = static_cast<double>(found) / static_cast<double>(lookups);
  }

  std::printf(
      "subscribers          %llu: %llu addresses, %llu plus addresses, %llu domain defaults "
      "over %llu domains (generated in %.2f s)\n",
      (unsigned long long)entries, (unsigned long long)data.addresses,
      (unsigned long long)data.plus, (unsigned long long)data.defaults,
      (unsigned long long)data.domains, gen_s);
  std::printf("csv                  %.1f MB\n", data.csv.size() / 1e6);
  std::printf("import, empty store  %.2f s (%.0f rows/s)\n", import_s, n / import_s);
  std::printf("import again (merge) %.2f s (%.0f rows/s)\n", reimport_s, n / reimport_s);
  std::printf("export               %.2f s (%.1f MB)\n", export_s, exported.str().size() / 1e6);
  std::printf("database on disk     %.1f MiB (%.0f bytes a subscriber)\n", disk / 1048576.0,
              static_cast<double>(disk) / static_cast<double>(std::max<uint64_t>(1, entries)));
  std::printf("lookup, one thread   ns/lookup, median of %d rounds of %llu (rounds)\n", rounds,
              (unsigned long long)lookups);
  for (const std::string& kind : kinds) {
    std::string rs;
    for (double x : per_round[kind]) rs += " " + std::to_string(static_cast<int>(x + 0.5));
    std::printf("  %-8s %7.0f   found %5.1f %%  (%s )\n", kind.c_str(), ns[kind],
                100 * found_share[kind], rs.c_str());
  }
  std::printf(
      "json {\"subscribers\": %llu, \"csv_bytes\": %zu, \"import_s\": %.4f, \"reimport_s\": %.4f, "
      "\"export_s\": %.4f, \"disk_bytes\": %llu",
      (unsigned long long)entries, data.csv.size(), import_s, reimport_s, export_s,
      (unsigned long long)disk);
  for (const std::string& kind : kinds) std::printf(", \"ns_%s\": %.1f", kind.c_str(), ns[kind]);
  std::printf("}\n");
  store->reset();
  if (keep) {
    std::fprintf(stderr, "kept %s\n", db.c_str());
  } else {
    std::filesystem::remove_all(made_dir ? dir : db, ec);
  }
  return 0;
}

}  // namespace
}  // namespace kensa

int main(int argc, char** argv) { return kensa::Run(argc, argv); }
