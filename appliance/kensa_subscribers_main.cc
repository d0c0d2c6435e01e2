// SPDX-License-Identifier: GPL-2.0-or-later
// kensa-subscribers: provisions the subscriber store that kensad reads (who bought the
// virus-check option). The commands themselves are subscribers/subscribers_cli.cc; this
// program only finds the store:
//   kensa-subscribers [--db DIR | --config FILE] COMMAND ...
// --config takes policy.subscriber_db (and its map size) from kensad's configuration; with
// neither, the embedded default's ./kensa-data/subscribers, as kensad without --config.
#include <iostream>
#include <string>
#include <vector>

#include "appliance/config.h"
#include "subscribers/subscribers_cli.h"

namespace kensa {
namespace {

constexpr char kProgram[] = "kensa-subscribers [--db DIR | --config FILE]";

int Usage(const std::string& why) {
  if (!why.empty()) std::cerr << "kensa-subscribers: " << why << "\n";
  std::cerr << subscribers::SubscribersCliUsage(kProgram)
            << "--db DIR       the store's directory\n"
               "--config FILE  kensad's configuration: its policy.subscriber_db\n"
               "neither: the embedded default's ./kensa-data/subscribers\n";
  return 2;
}

int Main(int argc, char** argv) {
  std::string db, config_path;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    std::string* target = a == "--db" ? &db : a == "--config" ? &config_path : nullptr;
    if (target != nullptr) {
      if (i + 1 >= argc) return Usage(a + " needs a value");
      *target = argv[++i];
    } else if (a.starts_with("--db=")) {
      db = a.substr(5);
    } else if (a.starts_with("--config=")) {
      config_path = a.substr(9);
    } else if (a == "-h" || a == "--help") {
      std::cout << subscribers::SubscribersCliUsage(kProgram);
      return 0;
    } else {
      break;
    }
  }
  if (!db.empty() && !config_path.empty()) return Usage("give --db or --config, not both");
  KensaConfig config = EmbeddedDefaultConfig();
  if (!config_path.empty()) {
    absl::StatusOr<KensaConfig> c = LoadConfig(config_path, ConfigUse::kScanOnly);
    if (!c.ok()) {
      std::cerr << "kensa-subscribers: " << c.status().message() << "\n";
      return 1;
    }
    config = *std::move(c);
  }
  if (db.empty()) db = config.subscriber_db;
  const std::vector<std::string> args(argv + i, argv + argc);
  return subscribers::RunSubscribersCli(args, db, std::cout, std::cerr,
                                        config.subscriber_db_map_bytes);
}

}  // namespace
}  // namespace kensa

int main(int argc, char** argv) { return kensa::Main(argc, argv); }
