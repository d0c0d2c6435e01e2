// SPDX-License-Identifier: GPL-2.0-or-later
#include "feed/sigtool_cli.h"

#include <functional>
#include <map>
#include <optional>
#include <set>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "feed/bundle_diff.h"
#include "feed/bundle_reader.h"
#include "feed/bundle_writer.h"
#include "feed/ed25519_keys.h"
#include "feed/manifest.h"

namespace kensa::feed {
namespace {

constexpr char kProgram[] = "kensa-sigtool";

struct Command {
  std::string name;
  std::string synopsis;     // after the command name
  std::string description;  // one line per option
  size_t positionals = 0;
  std::set<std::string> options;  // each takes a value
  std::set<std::string> required;
  std::set<std::string> repeatable;
};

const std::vector<Command>& Commands() {
  static const std::vector<Command>* const commands = new std::vector<Command>{
      {"keygen",
       "-o PREFIX",
       "  makes an Ed25519 key pair: PREFIX.key (private, mode 0600) and PREFIX.pub (public);\n"
       "  neither file may exist\n",
       0,
       {"-o"},
       {"-o"},
       {}},
      {"build",
       "DIR --version V -o OUT [--min-kensa-version X] [--created T]",
       "  makes an unsigned bundle of the ClamAV database files in DIR\n"
       "  --version V            the bundle's version: dotted decimal (27432, 2024.6.15.1);\n"
       "                         a newer bundle must have a larger one\n"
       "  --min-kensa-version X  the oldest kensa that may load it (default: this one)\n"
       "  --created T            creation time, RFC 3339 UTC (default: now)\n",
       1,
       {"--version", "-o", "--min-kensa-version", "--created"},
       {"--version", "-o"},
       {}},
      {"sign",
       "BUNDLE --key KEY [-o OUT]",
       "  signs BUNDLE's manifest with the private key KEY into OUT (default: BUNDLE itself),\n"
       "  after checking every file against the manifest\n",
       1,
       {"--key", "-o"},
       {"--key"},
       {}},
      {"verify",
       "BUNDLE --key PUB [--key PUB...]",
       "  exit 0 when BUNDLE is signed by one of the public keys and every file matches the\n"
       "  manifest, 1 (with the reason) otherwise\n",
       1,
       {"--key"},
       {"--key"},
       {"--key"}},
      {"inspect",
       "BUNDLE",
       "  prints the manifest, one `key value` line each (the signature is not checked)\n",
       1,
       {},
       {},
       {}},
      {"diff",
       "OLD NEW",
       "  files added, removed and changed, signature count deltas, and the names of the\n"
       "  signatures added and removed in each text database (signatures not checked)\n",
       2,
       {},
       {},
       {}},
  };
  return *commands;
}

std::string Usage() {
  std::string u = absl::StrCat("usage: ", kProgram, " COMMAND ...\n");
  for (const Command& c : Commands())
    absl::StrAppend(&u, "  ", kProgram, " ", c.name, " ", c.synopsis, "\n");
  absl::StrAppend(&u, "  ", kProgram, " COMMAND --help\n");
  return u;
}

std::string CommandUsage(const Command& c) {
  return absl::StrCat("usage: ", kProgram, " ", c.name, " ", c.synopsis, "\n", c.description);
}

struct Parsed {
  std::vector<std::string> positionals;
  std::map<std::string, std::vector<std::string>> options;
  std::string Get(const std::string& name) const {
    auto it = options.find(name);
    return it == options.end() ? "" : it->second.front();
  }
  bool Has(const std::string& name) const { return options.contains(name); }
};

// Returns the usage error, or nullopt with *p filled.
std::optional<std::string> Parse(const Command& c, const std::vector<std::string>& args,
                                 Parsed* p) {
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() > 1 && a[0] == '-') {
      std::string name = a, value;
      bool has_value = false;
      if (const size_t eq = a.find('='); a.starts_with("--") && eq != std::string::npos) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
        has_value = true;
      }
      if (!c.options.contains(name)) return absl::StrCat("unknown option ", name);
      if (!has_value) {
        if (i + 1 >= args.size()) return absl::StrCat(name, " needs a value");
        value = args[++i];
      }
      if (p->Has(name) && !c.repeatable.contains(name)) {
        return absl::StrCat(name, " given twice");
      }
      p->options[name].push_back(value);
    } else {
      p->positionals.push_back(a);
    }
  }
  if (p->positionals.size() != c.positionals) {
    return absl::StrCat("takes ", c.positionals, " argument", c.positionals == 1 ? "" : "s", " (",
                        c.synopsis.substr(0, c.synopsis.find(" -")), "), got ",
                        p->positionals.size());
  }
  for (const std::string& r : c.required) {
    if (!p->Has(r)) return absl::StrCat(r, " is required");
  }
  return std::nullopt;
}

class Runner {
 public:
  Runner(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}

  int Run(const std::vector<std::string>& args) {
    if (args.empty()) {
      err_ << kProgram << ": no command\n" << Usage();
      return 2;
    }
    if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
      out_ << Usage();
      return 0;
    }
    const Command* c = nullptr;
    for (const Command& candidate : Commands()) {
      if (candidate.name == args[0]) c = &candidate;
    }
    if (c == nullptr) {
      err_ << kProgram << ": unknown command " << args[0] << "\n" << Usage();
      return 2;
    }
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i] == "--help" || args[i] == "-h") {
        out_ << CommandUsage(*c);
        return 0;
      }
    }
    Parsed p;
    if (std::optional<std::string> why = Parse(*c, args, &p); why.has_value()) {
      err_ << kProgram << " " << c->name << ": " << *why << "\n" << CommandUsage(*c);
      return 2;
    }
    command_ = c->name;
    if (c->name == "keygen") return Keygen(p);
    if (c->name == "build") return Build(p);
    if (c->name == "sign") return Sign(p);
    if (c->name == "verify") return Verify(p);
    if (c->name == "inspect") return Inspect(p);
    return Diff(p);
  }

 private:
  int Fail(const absl::Status& s) {
    err_ << kProgram << " " << command_ << ": " << s.message() << "\n";
    return 1;
  }
  int UsageError(const std::string& why) {
    err_ << kProgram << " " << command_ << ": " << why << "\n";
    return 2;
  }

  int Keygen(const Parsed& p) {
    const std::string prefix = p.Get("-o");
    absl::StatusOr<Ed25519Key> key = Ed25519Key::Generate();
    if (!key.ok()) return Fail(key.status());
    if (absl::Status s = key->WritePrivatePem(prefix + ".key"); !s.ok()) return Fail(s);
    if (absl::Status s = key->WritePublicPem(prefix + ".pub"); !s.ok()) return Fail(s);
    out_ << "key " << key->id() << "\nprivate " << prefix << ".key\npublic " << prefix << ".pub\n";
    return 0;
  }

  int Build(const Parsed& p) {
    BuildOptions o;
    o.database_dir = p.positionals[0];
    absl::StatusOr<BundleVersion> v = ParseBundleVersion(p.Get("--version"));
    if (!v.ok()) return UsageError(absl::StrCat("--version: ", v.status().message()));
    o.version = *std::move(v);
    if (p.Has("--min-kensa-version")) {
      absl::StatusOr<BundleVersion> k = ParseBundleVersion(p.Get("--min-kensa-version"));
      if (!k.ok()) return UsageError(absl::StrCat("--min-kensa-version: ", k.status().message()));
      o.min_kensa_version = *std::move(k);
    }
    if (p.Has("--created")) {
      absl::StatusOr<absl::Time> t = ParseCreationTime(p.Get("--created"));
      if (!t.ok()) return UsageError(absl::StrCat("--created: ", t.status().message()));
      o.created = *t;
    }
    absl::StatusOr<Manifest> m = BuildBundle(o, p.Get("-o"));
    if (!m.ok()) return Fail(m.status());
    out_ << "built " << p.Get("-o") << " version " << m->version.ToString() << ": "
         << m->files.size() << " files, " << Signatures(*m) << " signatures (unsigned)\n";
    return 0;
  }

  int Sign(const Parsed& p) {
    absl::StatusOr<Ed25519Key> key = Ed25519Key::LoadPrivatePem(p.Get("--key"));
    if (!key.ok()) return Fail(key.status());
    const std::string in = p.positionals[0];
    const std::string out = p.Has("-o") ? p.Get("-o") : in;
    absl::StatusOr<Manifest> m = SignBundle(in, *key, out);
    if (!m.ok()) return Fail(m.status());
    out_ << "signed " << out << " version " << m->version.ToString() << " with key " << key->id()
         << "\n";
    return 0;
  }

  int Verify(const Parsed& p) {
    TrustedKeys keys;
    for (const std::string& path : p.options.at("--key")) {
      absl::StatusOr<Ed25519Key> k = Ed25519Key::LoadPublicPem(path);
      if (!k.ok()) return Fail(k.status());
      keys.push_back(*std::move(k));
    }
    absl::StatusOr<VerifiedManifest> v = VerifyBundle(p.positionals[0], keys);
    if (!v.ok()) return Fail(v.status());
    out_ << "valid " << p.positionals[0] << " version " << v->manifest.version.ToString() << ": "
         << v->manifest.files.size() << " files, " << Signatures(v->manifest)
         << " signatures, signed by key " << v->key_id << "\n";
    return 0;
  }

  int Inspect(const Parsed& p) {
    absl::StatusOr<BundleHead> head = ReadBundleHead(p.positionals[0]);
    if (!head.ok()) return Fail(head.status());
    absl::StatusOr<Manifest> m = ParseManifest(head->manifest_text);
    if (!m.ok()) return Fail(m.status());
    out_ << "format " << m->format << "\n"
         << "version " << m->version.ToString() << "\n"
         << "created " << m->created << "\n"
         << "min_kensa_version " << m->min_kensa_version.ToString() << "\n"
         << "signed " << (head->signature.has_value() ? "yes (not checked: use verify)" : "no")
         << "\n"
         << "files " << m->files.size() << "\n"
         << "bytes " << m->TotalBytes() << "\n"
         << "signatures " << Signatures(*m) << "\n";
    for (const auto& [kind, n] : m->totals) out_ << "total " << kind << " " << n << "\n";
    for (const ManifestFile& f : m->files) {
      out_ << "file " << f.name << " size " << f.size << " signatures " << f.signatures
           << " sha256 " << f.sha256 << "\n";
    }
    return 0;
  }

  int Diff(const Parsed& p) {
    absl::StatusOr<BundleDiff> d = DiffBundles(p.positionals[0], p.positionals[1]);
    if (!d.ok()) return Fail(d.status());
    out_ << FormatBundleDiff(*d);
    return 0;
  }

  static uint64_t Signatures(const Manifest& m) {
    uint64_t n = 0;
    for (const auto& [kind, count] : m.totals) n += count;
    return n;
  }

  std::ostream& out_;
  std::ostream& err_;
  std::string command_;
};

}  // namespace

int RunSigtool(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  return Runner(out, err).Run(args);
}

}  // namespace kensa::feed
