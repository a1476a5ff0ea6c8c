#include "zstor/init.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <sstream>

#include "common/quote.h"
#include "common/zdb_client.h"
#include "zstor/config.h"
#include "zstor/config_writer.h"
#include "zstor/crypto.h"
#include "zstor/namespace_setup.h"

namespace zstor {

using qs::Result;
using qs::Status;

namespace {

// JSON strings escape as TOML basic strings do.

struct GroupArg {
  std::vector<std::string> addresses;  // normalised (ZdbAddress::ToString)
  std::map<std::string, std::string> labels;
};

struct Args {
  std::string admin_password_file;
  std::vector<std::string> meta;
  bool meta_given = false;
  std::vector<GroupArg> groups;
  std::string group_index;  // add-backend's --group N
  std::vector<std::string> positional;
  std::map<std::string, std::string> labels;  // add-backend's --labels
  bool labels_given = false;
  int k = 16, m = 4;
  bool shards_given = false;
  std::string prefix;
  bool prefix_given = false;
};

// Prints a usage or setup error the way the CLI does; returns 2.
int Usage(const std::string& command, bool json, const std::string& message) {
  if (json) std::printf("{\"ok\": false, \"error\": %s}\n", qs::Quote(message).c_str());
  else std::fprintf(stderr, "zstor: %s: %s\n", command.c_str(), message.c_str());
  return 2;
}

Result<std::string> NormalAddress(const std::string& text) {
  auto a = qs::ParseZdbAddress(text);
  if (!a.ok()) return Status::InvalidArgument("backend address '" + text + "': " + a.status().message());
  return a->ToString();
}

Result<std::vector<std::string>> AddressList(const std::string& option, const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) return Status::InvalidArgument(option + " '" + text + "': an empty address");
    auto a = NormalAddress(item);
    if (!a.ok()) return a.status();
    out.push_back(*a);
  }
  if (out.empty()) return Status::InvalidArgument(option + " needs ADDR[,ADDR...]");
  return out;
}

Result<std::map<std::string, std::string>> LabelList(const std::string& text) {
  std::map<std::string, std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      return Status::InvalidArgument("--labels '" + text + "': '" + item + "' is not key=value");
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  if (out.empty()) return Status::InvalidArgument("--labels needs key=value[,key=value...]");
  return out;
}

bool ValidPrefix(const std::string& p) {
  if (p.empty() || p.size() > 64 || p[0] == '-') return false;
  return std::all_of(p.begin(), p.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

Status ParseArgs(const std::string& command, const std::vector<std::string>& argv, Args* a) {
  bool init = command == "init";
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& o = argv[i];
    auto value = [&](std::string* dst) {
      if (i + 1 >= argv.size()) return false;
      *dst = argv[++i];
      return true;
    };
    std::string v;
    if (o == "--json") continue;  // main() reads it too
    if (!o.empty() && o[0] == '-' && o != "--json" && !value(&v))
      return Status::InvalidArgument("option '" + o + "' needs a value");
    if (o == "--admin-password-file") {
      a->admin_password_file = v;
    } else if (o == "--meta") {
      if (!init)
        return Status::InvalidArgument(
            "meta backends cannot be added: shard i of every metadata record is on the i-th meta backend, so "
            "another one would leave every record where readers no longer look. add-backend adds data backends "
            "(--group N ADDR)");
      auto l = AddressList(o, v);
      if (!l.ok()) return l.status();
      a->meta.insert(a->meta.end(), l->begin(), l->end());
      a->meta_given = true;
    } else if (o == "--group" && init) {
      auto l = AddressList(o, v);
      if (!l.ok()) return l.status();
      a->groups.push_back(GroupArg{*l, {}});
    } else if (o == "--group") {
      a->group_index = v;
    } else if (o == "--labels") {
      auto l = LabelList(v);
      if (!l.ok()) return l.status();
      if (init) {
        if (a->groups.empty()) return Status::InvalidArgument("--labels applies to the --group before it, and none came before");
        a->groups.back().labels = *l;
      } else {
        a->labels = *l;
        a->labels_given = true;
      }
    } else if (o == "--shards" && init) {
      int k = 0, m = -1;
      char extra = 0;
      if (std::sscanf(v.c_str(), "%d+%d%c", &k, &m, &extra) != 2 || k < 1 || m < 0 || k + m > 255)
        return Status::InvalidArgument("--shards '" + v + "': expected K+M (data + parity fragments, K >= 1, K + M <= 255), e.g. 16+4");
      a->k = k;
      a->m = m;
      a->shards_given = true;
    } else if (o == "--prefix" && init) {
      if (!ValidPrefix(v))
        return Status::InvalidArgument("--prefix '" + v + "': 1 to 64 characters of a-z, 0-9 and '-', not starting with '-'");
      a->prefix = v;
      a->prefix_given = true;
    } else if (!o.empty() && o[0] == '-') {
      return Status::InvalidArgument("unknown option '" + o + "'");
    } else {
      a->positional.push_back(o);
    }
  }
  if (init && !a->positional.empty()) return Status::InvalidArgument("unexpected argument '" + a->positional[0] + "'");
  return Status::OK();
}

Result<std::string> ReadAdminPassword(const std::string& file) {
  if (file.empty()) return std::string();
  std::ifstream f(file, std::ios::binary);
  if (!f) return Status::InvalidArgument("--admin-password-file " + file + ": cannot read it");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  if (s.empty()) return Status::InvalidArgument("--admin-password-file " + file + " is empty");
  if (s.find('\n') != std::string::npos)
    return Status::InvalidArgument("--admin-password-file " + file + ": the password must be its only line");
  return s;
}

std::string RandomPassword() { return ToHex(RandomBytes(16)); }

// What fits when only n data backends exist: the same share of parity.
std::string ShardsThatFit(int n, int k, int m) {
  if (n <= 1) return "1+0";
  int parity = static_cast<int>((static_cast<double>(n) * m) / (k + m) + 0.5);
  if (m > 0 && parity < 1) parity = 1;
  if (parity >= n) parity = n - 1;
  return std::to_string(n - parity) + "+" + std::to_string(parity);
}

// One namespace to make ready, and what became of it.
struct Target {
  std::string role;  // "meta" or "data"
  int group = -1;
  NamespaceSpec spec;
  NamespaceOutcome outcome;
};

std::vector<Target> TargetsOf(const Config& c) {
  std::vector<Target> t;
  for (const auto& b : c.meta.backends) t.push_back(Target{"meta", -1, NamespaceSpec{b.address, true}, {}});
  for (const auto& b : c.backends) t.push_back(Target{"data", b.group, NamespaceSpec{b.address, false}, {}});
  return t;
}

// All at once: a dead backend costs its own deadline, not one per backend.
void SetupAll(std::vector<Target>* targets, const NamespaceSetupOptions& o) {
  std::vector<std::future<NamespaceOutcome>> f;
  for (auto& t : *targets) f.push_back(std::async(std::launch::async, [&t, &o] { return SetupNamespace(t.spec, o); }));
  for (size_t i = 0; i < f.size(); ++i) (*targets)[i].outcome = f[i].get();
}

std::string Said(const std::string& done, const NamespaceSpec& spec) {
  const std::string mode = spec.user_mode ? "user" : "seq";
  bool none = spec.address.password.empty();  // a hand-written config may name namespaces without one
  const std::string set = none ? "no password: the config gives none" : "private, password set";
  const std::string works = none ? "exists, no password as in the config" : "exists, password works";
  if (done == "created") return "created (mode " + mode + ", " + set + ")";
  if (done == "finished") return "completed (mode " + mode + ", " + set + "; an earlier run stopped half-way)";
  if (done == "mode set") return works + ", mode set to " + mode;
  return works + ", mode " + mode;
}

void PrintTarget(const Target& t) {
  std::string group = t.group >= 0 ? "group " + std::to_string(t.group) : "";
  std::string what = t.outcome.status.ok() ? Said(t.outcome.done, t.spec) : "FAILED: " + t.outcome.status.message();
  std::printf("%-4s  %-30s %-8s %-24s %s\n", t.role.c_str(), t.spec.address.ToString().c_str(), group.c_str(),
              t.spec.address.ns.c_str(), what.c_str());
}

std::string TargetJson(const Target& t) {
  return "{\"role\": \"" + t.role + "\", \"backend\": " + qs::Quote(t.spec.address.ToString()) + ", \"group\": " +
         std::to_string(t.group) + ", \"namespace\": " + qs::Quote(t.spec.address.ns) + ", \"ok\": " +
         (t.outcome.status.ok() ? "true" : "false") + ", \"done\": " + qs::Quote(t.outcome.done) + ", \"error\": " +
         (t.outcome.status.ok() ? "null" : qs::Quote(t.outcome.status.message())) + "}";
}

// The names and reasons of the targets that are not ready.
std::string Failures(const std::vector<Target>& targets, size_t* failed) {
  std::string o;
  *failed = 0;
  for (const auto& t : targets) {
    if (t.outcome.status.ok()) continue;
    ++*failed;
    o += (o.empty() ? "" : "; ") + t.role + " backend " + t.spec.address.ToString() + " (" + t.spec.address.ns +
         "): " + t.outcome.status.message();
  }
  return o;
}

// The first way the config differs from what the arguments ask for, or "".
std::string Difference(const Config& c, const Args& a) {
  if (a.meta_given) {
    std::vector<std::string> have;
    for (const auto& b : c.meta.backends) have.push_back(b.address.ToString());
    if (have != a.meta) return "its meta backends are not the --meta given";
  }
  if (!a.groups.empty()) {
    if (static_cast<int>(a.groups.size()) != c.group_count)
      return "it has " + std::to_string(c.group_count) + " groups, the arguments " + std::to_string(a.groups.size());
    for (size_t g = 0; g < a.groups.size(); ++g) {
      std::vector<std::string> have;
      for (const auto& b : c.backends) {
        if (b.group != static_cast<int>(g)) continue;
        have.push_back(b.address.ToString());
        if (b.labels != a.groups[g].labels) return "group " + std::to_string(g) + " has other labels";
      }
      if (have != a.groups[g].addresses) return "group " + std::to_string(g) + " has other backends";
    }
  }
  if (a.shards_given && (c.minimal_shards != a.k || c.expected_shards != a.k + a.m))
    return "it has --shards " + std::to_string(c.minimal_shards) + "+" + std::to_string(c.parity_shards());
  if (a.prefix_given && c.meta.prefix != a.prefix) return "its prefix is \"" + c.meta.prefix + "\"";
  return "";
}

Result<std::string> ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::IOError("cannot read " + path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace

std::string DefaultPrefix() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = 0;
  std::string h(host);
  h = h.substr(0, h.find('.'));
  std::string p;
  for (char c : h) {
    char l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    p.push_back((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' ? l : '-');
  }
  while (!p.empty() && p.front() == '-') p.erase(0, 1);
  if (p.size() > 64) p.resize(64);
  while (!p.empty() && p.back() == '-') p.pop_back();
  return p.empty() ? "zstor" : p;
}

int RunInit(const std::string& path, const std::vector<std::string>& argv, bool json) {
  const std::string cmd = "init";
  Args a;
  Status s = ParseArgs(cmd, argv, &a);
  if (!s.ok()) return Usage(cmd, json, s.message());
  auto admin = ReadAdminPassword(a.admin_password_file);
  if (!admin.ok()) return Usage(cmd, json, admin.status().message());

  bool exists = std::filesystem::exists(path);
  Config cfg;
  if (exists) {
    // Run again: the file is the truth; nothing is generated anew.
    auto text = ReadText(path);
    if (!text.ok()) return Usage(cmd, json, text.status().message());
    auto c = ParseConfig(*text, path);
    if (!c.ok()) return Usage(cmd, json, path + " exists but does not load (" + c.status().message() + "); fix it, or move it away to start over");
    std::string diff = Difference(*c, a);
    if (!diff.empty())
      return Usage(cmd, json,
                   path + " exists and differs from the arguments: " + diff +
                       ". Run init with the arguments that wrote it (or with none but --admin-password-file), add data "
                       "backends with add-backend, or move the file away to start over");
    cfg = *c;
  } else {
    if (a.meta.empty() || a.groups.empty())
      return Usage(cmd, json, "needs --meta ADDR,... and at least one --group ADDR,... (" + path + " does not exist yet)");
    std::set<std::string> seen;
    size_t n = 0;
    for (const auto& g : a.groups) {
      for (const auto& addr : g.addresses) {
        if (!seen.insert(addr).second) return Usage(cmd, json, "data backend " + addr + " is given twice");
        ++n;
      }
    }
    std::set<std::string> seen_meta;
    for (const auto& addr : a.meta)
      if (!seen_meta.insert(addr).second) return Usage(cmd, json, "meta backend " + addr + " is given twice");
    if (static_cast<int>(n) < a.k + a.m)
      return Usage(cmd, json,
                   "--shards " + std::to_string(a.k) + "+" + std::to_string(a.m) + " writes " + std::to_string(a.k + a.m) +
                       " fragments per chunk, each to its own data backend, and " + std::to_string(n) +
                       " are given: add " + std::to_string(a.k + a.m - static_cast<int>(n)) +
                       " data backends or use --shards " + ShardsThatFit(static_cast<int>(n), a.k, a.m));
    InitLayout l;
    l.minimal_shards = a.k;
    l.expected_shards = a.k + a.m;
    l.prefix = a.prefix_given ? a.prefix : DefaultPrefix();
    l.key = Key::Random();
    l.meta_key = Key::Random();
    for (const auto& addr : a.meta) l.meta.push_back(InitBackend{addr, RandomPassword(), {}});
    for (const auto& g : a.groups) {
      l.groups.emplace_back();
      for (const auto& addr : g.addresses) l.groups.back().push_back(InitBackend{addr, RandomPassword(), g.labels});
    }
    std::string text = RenderConfig(l);
    auto c = ParseConfig(text, path);
    if (!c.ok()) return Usage(cmd, json, "the config for these arguments does not load: " + c.status().message());
    s = WriteConfigFile(path, text, /*keep_mode=*/false);
    if (!s.ok()) return Usage(cmd, json, s.message());
    cfg = *c;
  }

  std::vector<Target> targets = TargetsOf(cfg);
  NamespaceSetupOptions o;
  o.admin_password = *admin;
  SetupAll(&targets, o);
  size_t failed = 0;
  std::string failures = Failures(targets, &failed);
  std::string abs = std::filesystem::absolute(path).lexically_normal().string();
  if (json) {
    std::string list;
    for (const auto& t : targets) list += (list.empty() ? "" : ", ") + TargetJson(t);
    std::printf("{\"ok\": %s, \"config\": %s, \"written\": %s, \"prefix\": %s, \"backends\": [%s], \"ready\": %zu, "
                "\"failed\": %zu, \"error\": %s, \"backup\": %s}\n",
                failed == 0 ? "true" : "false", qs::Quote(abs).c_str(), exists ? "false" : "true", qs::Quote(cfg.meta.prefix).c_str(),
                list.c_str(), targets.size() - failed, failed, failed == 0 ? "null" : qs::Quote(failures).c_str(), qs::Quote(abs).c_str());
  } else {
    if (exists) std::printf("read %s (prefix \"%s\"): nothing generated, every backend checked\n", abs.c_str(), cfg.meta.prefix.c_str());
    else std::printf("wrote %s (prefix \"%s\"): new keys, a new password per namespace\n", abs.c_str(), cfg.meta.prefix.c_str());
    for (const auto& t : targets) PrintTarget(t);
    if (failed == 0)
      std::printf("%zu backends ready: %zu meta, %zu data in %d groups (%d+%d)\n", targets.size(), cfg.meta.backends.size(),
                  cfg.backends.size(), cfg.group_count, cfg.minimal_shards, cfg.parity_shards());
    std::printf("Back up %s: it holds the keys and passwords, and nothing stored can be read back without it.\n", abs.c_str());
  }
  if (failed == 0) return 0;
  if (!json)
    std::fprintf(stderr, "zstor: init: %zu of %zu backends not ready: %s. Run the same command again once they are.\n", failed,
                 targets.size(), failures.c_str());
  return 1;
}

int RunAddBackend(const std::string& path, const std::vector<std::string>& argv, bool json) {
  const std::string cmd = "add-backend";
  Args a;
  Status s = ParseArgs(cmd, argv, &a);
  if (!s.ok()) return Usage(cmd, json, s.message());
  if (a.group_index.empty() || a.positional.size() != 1)
    return Usage(cmd, json, "usage: zstor -c CONFIG add-backend [--admin-password-file FILE] --group N ADDR [--labels k=v,...]");
  char* end = nullptr;
  long group = std::strtol(a.group_index.c_str(), &end, 10);
  if (end == a.group_index.c_str() || *end != '\0' || group < 0 || group > 10000)
    return Usage(cmd, json, "--group '" + a.group_index + "': expected a group number (0 is the first [[groups]])");
  auto addr = NormalAddress(a.positional[0]);
  if (!addr.ok()) return Usage(cmd, json, addr.status().message());
  auto admin = ReadAdminPassword(a.admin_password_file);
  if (!admin.ok()) return Usage(cmd, json, admin.status().message());
  if (!std::filesystem::exists(path)) return Usage(cmd, json, path + " does not exist: write it with zstor init first");
  auto text = ReadText(path);
  if (!text.ok()) return Usage(cmd, json, text.status().message());
  auto cfg = ParseConfig(*text, path);
  if (!cfg.ok()) return Usage(cmd, json, path + " does not load: " + cfg.status().message());
  if (group > cfg->group_count)
    return Usage(cmd, json, "--group " + std::to_string(group) + ": " + path + " has " + std::to_string(cfg->group_count) +
                                " groups (0.." + std::to_string(cfg->group_count - 1) + "); " +
                                std::to_string(cfg->group_count) + " starts a new one");
  NamespaceSetupOptions o;
  o.admin_password = *admin;
  std::string abs = std::filesystem::absolute(path).lexically_normal().string();

  Target t{"data", static_cast<int>(group), {}, {}};
  bool added = false;
  const BackendConfig* listed = nullptr;
  for (const auto& b : cfg->backends)
    if (b.address.ToString() == *addr) listed = &b;
  if (listed != nullptr) {
    // Run again: already in the file; only its namespace is checked.
    if (listed->group != group)
      return Usage(cmd, json, *addr + " is already in group " + std::to_string(listed->group) + " of " + path);
    if (a.labels_given && listed->labels != a.labels)
      return Usage(cmd, json, *addr + " is already in group " + std::to_string(group) + " of " + path + " with other labels");
    t.spec = NamespaceSpec{listed->address, false};
  } else {
    qs::ZdbAddress address = qs::ParseZdbAddress(*addr).value();
    s = CheckBackendAnswers(address, o);
    if (!s.ok()) {
      t.spec = NamespaceSpec{address, false};
      t.spec.address.ns = DataNamespace(cfg->meta.prefix);
      t.outcome.status = s.WithContext("nothing changed");
    } else {
      InitBackend nb{*addr, RandomPassword(), a.labels};
      std::string ns = DataNamespace(cfg->meta.prefix);
      auto updated = InsertDataBackend(*text, static_cast<int>(group), RenderDataBackend(nb, ns));
      Result<Config> check = updated.ok() ? ParseConfig(*updated, path) : Result<Config>(updated.status());
      bool as_expected = check.ok() && check->backends.size() == cfg->backends.size() + 1 &&
                         std::any_of(check->backends.begin(), check->backends.end(), [&](const BackendConfig& b) {
                           return b.address.ToString() == *addr && b.group == group && b.address.ns == ns;
                         });
      if (!as_expected)
        return Usage(cmd, json,
                     "could not place the entry in group " + std::to_string(group) + " of " + path +
                         (check.ok() ? "" : " (" + check.status().message() + ")") +
                         ": its [[groups]] are not written as init writes them. Add it by hand:\n" +
                         RenderDataBackend(nb, ns));
      s = WriteConfigFile(path, *updated, /*keep_mode=*/true);
      if (!s.ok()) return Usage(cmd, json, s.message());
      added = true;
      for (const auto& b : check->backends)
        if (b.address.ToString() == *addr) t.spec = NamespaceSpec{b.address, false};
    }
  }
  if (t.outcome.status.ok()) t.outcome = SetupNamespace(t.spec, o);
  bool ok = t.outcome.status.ok();
  if (json) {
    std::printf("{\"ok\": %s, \"config\": %s, \"added\": %s, \"backend\": %s, \"error\": %s, \"restart\": %s}\n",
                ok ? "true" : "false", qs::Quote(abs).c_str(), added ? "true" : "false", TargetJson(t).c_str(),
                ok ? "null" : qs::Quote(t.outcome.status.message()).c_str(), added ? "true" : "false");
  } else {
    if (added) std::printf("added %s to group %ld of %s\n", addr->c_str(), group, abs.c_str());
    else if (listed != nullptr) std::printf("%s is already in group %ld of %s\n", addr->c_str(), group, abs.c_str());
    else std::printf("%s not added to %s\n", addr->c_str(), abs.c_str());
    PrintTarget(t);
    if (added)
      std::printf("The CLI uses it now; the daemon reads its config at start: systemctl restart zstor. Back up %s again "
                  "(it holds the new namespace password).\n",
                  abs.c_str());
  }
  if (ok) return 0;
  if (!json)
    std::fprintf(stderr, "zstor: add-backend: data backend %s (%s): %s\n", addr->c_str(), t.spec.address.ns.c_str(),
                 t.outcome.status.message().c_str());
  return 1;
}

}  // namespace zstor
