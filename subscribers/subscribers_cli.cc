// SPDX-License-Identifier: GPL-2.0-or-later
// The kensa-subscribers commands. Reading commands open the store read-only, so a mistyped
// --db is an error rather than a new empty store.
#include "subscribers/subscribers_cli.h"

#include <stdio.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "subscribers/subscriber_csv.h"

namespace kensa::subscribers {
namespace {

constexpr int kOk = 0;
constexpr int kError = 1;
constexpr int kUsage = 2;

struct Cli {
  const std::vector<std::string>& args;
  const std::string& db_dir;
  std::ostream& out;
  std::ostream& err;
  uint64_t map_bytes;
  SubscriberStore* open_store;  // the caller's, when it has the store open already
  std::unique_ptr<SubscriberStore> owned;

  int Usage(std::string_view why) {
    err << "kensa-subscribers: " << why << "\n" << SubscribersCliUsage("kensa-subscribers");
    return kUsage;
  }
  int Fail(const absl::Status& s) {
    err << "kensa-subscribers: " << s.message() << "\n";
    return kError;
  }
  SubscriberStore* Open(OpenMode mode, int* status) {
    if (open_store != nullptr) return open_store;
    absl::StatusOr<std::unique_ptr<SubscriberStore>> s =
        SubscriberStore::Open(db_dir, mode, map_bytes);
    if (!s.ok()) {
      *status = Fail(s.status());
      return nullptr;
    }
    owned = std::move(*s);
    return owned.get();
  }

  int Add();
  int Remove();
  int Show();
  int List();
  int Import();
  int Export();
};

std::string Describe(const SubscriberEntry& e) {
  return absl::StrCat("inbound=", e.inbound ? "on" : "off", " outbound=", e.outbound ? "on" : "off",
                      " action=", std::string(SubscriberActionName(e.action)));
}

int Cli::Add() {
  if (args.size() < 2) return Usage("add needs an address or @domain");
  std::optional<bool> inbound, outbound;
  std::optional<SubscriberAction> action;
  for (size_t i = 2; i < args.size(); ++i) {
    std::string name = args[i], value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Usage(absl::StrCat(name, " needs a value"));
    }
    if (name == "--inbound" || name == "--outbound") {
      std::optional<bool> v = ParseOnOff(value);
      if (!v) return Usage(absl::StrCat(name, " takes on or off, not \"", value, "\""));
      (name == "--inbound" ? inbound : outbound) = v;
    } else if (name == "--action") {
      action = ParseSubscriberAction(value);
      if (!action) {
        return Usage(absl::StrCat("--action takes default, remove, reject or quarantine, not \"",
                                  value, "\""));
      }
    } else {
      return Usage(absl::StrCat("add: unknown option ", name));
    }
  }
  absl::StatusOr<std::string> key = NormalizeAddress(args[1]);
  if (!key.ok()) return Fail(key.status());
  int status = kOk;
  SubscriberStore* store = Open(OpenMode::kReadWrite, &status);
  if (!store) return status;
  // A new entry is a subscription to both; an update changes only what was given.
  SubscriberEntry entry{true, true, SubscriberAction::kDefault};
  absl::StatusOr<SubscriberEntry> old = store->Get(*key);
  if (old.ok()) {
    entry = *old;
  } else if (old.status().code() != absl::StatusCode::kNotFound) {
    return Fail(old.status());
  }
  if (inbound) entry.inbound = *inbound;
  if (outbound) entry.outbound = *outbound;
  if (action) entry.action = *action;
  if (absl::Status s = store->Put(*key, entry); !s.ok()) return Fail(s);
  out << (old.ok() ? "updated " : "added ") << *key << ": " << Describe(entry) << "\n";
  return kOk;
}

int Cli::Remove() {
  if (args.size() != 2) return Usage("remove needs one address or @domain");
  absl::StatusOr<std::string> key = NormalizeAddress(args[1]);
  if (!key.ok()) return Fail(key.status());
  int status = kOk;
  SubscriberStore* store = Open(OpenMode::kReadWrite, &status);
  if (!store) return status;
  absl::Status s = store->Remove(*key);
  if (s.code() == absl::StatusCode::kNotFound) {
    err << "kensa-subscribers: " << *key << " is not in the subscriber store\n";
    return kError;
  }
  if (!s.ok()) return Fail(s);
  out << "removed " << *key << "\n";
  return kOk;
}

int Cli::Show() {
  if (args.size() != 2) return Usage("show needs one address");
  absl::StatusOr<std::string> key = NormalizeAddress(args[1]);
  if (!key.ok()) return Fail(key.status());
  int status = kOk;
  SubscriberStore* store = Open(OpenMode::kReadOnly, &status);
  if (!store) return status;
  // Lookup treats a read error as no entry (the data path must go on); tell them apart here.
  if (absl::StatusOr<uint64_t> n = store->Count(); !n.ok()) return Fail(n.status());
  std::optional<LookupResult> r = store->Lookup(*key);
  if (!r) {
    out << *key << ": not subscribed (no entry for it";
    if (std::string base; StripPlusTag(*key, '+', &base)) out << ", for " << base;
    if (!IsDomainKey(*key)) out << " or for " << key->substr(key->rfind('@'));
    out << ")\n";
    return kOk;
  }
  std::string how = "the address";
  if (r->matched_key != *key)
    how = IsDomainKey(r->matched_key) ? "the domain default" : "the address without its tag";
  out << *key << ": " << r->matched_key << " (" << how << ") " << Describe(r->entry) << "\n";
  return kOk;
}

int Cli::List() {
  if (args.size() != 1) return Usage("list takes no arguments");
  int status = kOk;
  SubscriberStore* store = Open(OpenMode::kReadOnly, &status);
  if (!store) return status;
  std::string line;
  absl::Status s = store->ForEach([&](std::string_view key, const SubscriberEntry& e) {
    FormatCsvRow(key, e, &line);
    out << line << '\n';
    return static_cast<bool>(out);
  });
  if (!s.ok()) return Fail(s);
  return kOk;
}

int Cli::Import() {
  ImportMode mode = ImportMode::kMerge;
  std::string file;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--replace") {
      mode = ImportMode::kReplace;
    } else if (file.empty() && !args[i].starts_with("--")) {
      file = args[i];
    } else {
      return Usage(absl::StrCat("import: unexpected ", args[i]));
    }
  }
  if (file.empty()) return Usage("import needs a CSV file");
  std::ifstream in(file);
  if (!in) return Fail(absl::NotFoundError(absl::StrCat("cannot read ", file)));
  int status = kOk;
  SubscriberStore* store = Open(OpenMode::kReadWrite, &status);
  if (!store) return status;
  const auto start = std::chrono::steady_clock::now();
  ImportStats st;
  if (absl::Status s = store->ImportCsv(in, &st, mode); !s.ok()) {
    return Fail(
        absl::Status(s.code(), absl::StrCat(file, ": ", s.message(), " (nothing was imported)")));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out << absl::StrFormat("imported %d rows from %s in %.2f s: %d new, ", st.rows, file, seconds,
                         st.added);
  if (mode == ImportMode::kReplace) {
    out << st.removed << " entries before replaced";
  } else {
    out << st.updated << " updated";
  }
  out << "; " << st.entries << " entries in the store\n";
  return kOk;
}

int Cli::Export() {
  if (args.size() > 2) return Usage("export takes at most one file");
  int status = kOk;
  SubscriberStore* store = Open(OpenMode::kReadOnly, &status);
  if (!store) return status;
  if (args.size() == 1) {
    if (absl::Status s = store->ExportCsv(out); !s.ok()) return Fail(s);
    return kOk;
  }
  // Written aside and renamed, so FILE is never a half export.
  const std::string& file = args[1];
  const std::string tmp = file + ".tmp";
  absl::Status s;
  {
    std::ofstream f(tmp, std::ios::trunc);
    s = f ? store->ExportCsv(f) : absl::PermissionDeniedError(absl::StrCat("cannot write ", tmp));
    if (s.ok()) {
      f.close();
      if (!f) s = absl::DataLossError(absl::StrCat("writing ", tmp, " failed"));
    }
  }
  if (s.ok() && std::rename(tmp.c_str(), file.c_str()) != 0) {
    s = absl::InternalError(absl::StrCat("rename ", tmp, " to ", file, " failed"));
  }
  if (!s.ok()) {
    std::remove(tmp.c_str());
    return Fail(s);
  }
  absl::StatusOr<uint64_t> n = store->Count();
  out << "exported " << (n.ok() ? *n : 0) << " entries to " << file << "\n";
  return kOk;
}

}  // namespace

std::string SubscribersCliUsage(const std::string& program) {
  return absl::StrCat(
      "usage: ", program,
      " COMMAND ...\n"
      "  add ADDRESS|@DOMAIN [--inbound on|off] [--outbound on|off]\n"
      "      [--action default|remove|reject|quarantine]\n"
      "  remove ADDRESS|@DOMAIN\n"
      "  show ADDRESS\n"
      "  list\n"
      "  import FILE.csv [--replace]\n"
      "  export [FILE]\n"
      "add creates an entry (inbound and outbound on, the configured action unless given) or\n"
      "changes only what is given of an existing one; @DOMAIN is the default for the domain's\n"
      "addresses that have no entry. show says what the mail path decides for an address: its\n"
      "entry, else the entry without its +tag, else the domain default. import reads\n"
      "\"address,inbound,outbound[,action]\" CSV (what export writes) all or nothing; with\n"
      "--replace the store becomes exactly the file. export writes to standard output without\n"
      "FILE.\n");
}

namespace {

int Run(Cli& cli) {
  const std::vector<std::string>& args = cli.args;
  if (args.empty()) return cli.Usage("no command");
  const std::string& command = args[0];
  if (command == "help" || command == "-h" || command == "--help") {
    cli.out << SubscribersCliUsage("kensa-subscribers");
    return kOk;
  }
  if (command == "add") return cli.Add();
  if (command == "remove") return cli.Remove();
  if (command == "show") return cli.Show();
  if (command == "list") return cli.List();
  if (command == "import") return cli.Import();
  if (command == "export") return cli.Export();
  return cli.Usage(absl::StrCat("unknown command \"", command, "\""));
}

}  // namespace

int RunSubscribersCli(const std::vector<std::string>& args, const std::string& db_dir,
                      std::ostream& out, std::ostream& err, uint64_t map_bytes) {
  Cli cli{args, db_dir, out, err, map_bytes, nullptr, nullptr};
  return Run(cli);
}

int RunSubscribersCli(const std::vector<std::string>& args, SubscriberStore& store,
                      std::ostream& out, std::ostream& err) {
  Cli cli{args, store.dir(), out, err, 0, &store, nullptr};
  return Run(cli);
}

}  // namespace kensa::subscribers
