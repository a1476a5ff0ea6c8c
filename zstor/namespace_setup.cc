#include "zstor/namespace_setup.h"

#include <map>
#include <vector>

namespace zstor {

using qs::Reply;
using qs::Result;
using qs::Status;

namespace {

qs::ZdbClientOptions ClientOptions(const NamespaceSetupOptions& o) {
  qs::ZdbClientOptions c;
  c.connect_timeout = o.timeout;
  c.command_timeout = o.timeout;
  c.request_timeout = o.timeout;
  c.connect_attempts = 1;
  return c;
}

std::string Seconds(std::chrono::milliseconds t) {
  auto ms = t.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// One command; a transport failure or a server error is a Status naming
// the command (without its secret arguments).
Result<Reply> Call(qs::ZdbClient& c, const std::vector<std::string_view>& argv, const std::string& shown) {
  auto r = c.Command(argv);
  if (!r.ok()) return Status::Unavailable(shown + ": " + r.status().message());
  if (r->is_error()) return Status::IOError(shown + ": " + r->str);
  return r;
}

// PING within the deadline, then AUTH when an admin password is given. A
// zdb without an admin password makes every client admin and answers AUTH
// with "Authentication disabled": that is fine.
Status Greet(qs::ZdbClient& c, const NamespaceSetupOptions& o) {
  auto ping = c.Command({"PING"});
  if (!ping.ok())
    return Status::Unavailable("did not answer PING: " + ping.status().message() + " (deadline " + Seconds(o.timeout) + ")");
  if (ping->is_error()) return Status::IOError("PING answered " + ping->str);
  if (o.admin_password.empty()) return Status::OK();
  auto auth = c.Command({"AUTH", o.admin_password});
  if (!auth.ok()) return Status::Unavailable("AUTH: " + auth.status().message());
  if (auth->is_error() && qs::ParseZdbError(auth->str) != qs::ZdbError::kAuthenticationDisabled)
    return Status::PermissionDenied("admin password refused (AUTH: " + auth->str + ")");
  return Status::OK();
}

// NSINFO as key -> value; NotFound when the namespace does not exist.
Result<std::map<std::string, std::string>> NsInfo(qs::ZdbClient& c, const std::string& ns) {
  auto r = c.Command({"NSINFO", ns});
  if (!r.ok()) return Status::Unavailable("NSINFO " + ns + ": " + r.status().message());
  if (r->is_error()) {
    if (qs::ParseZdbError(r->str) == qs::ZdbError::kNamespaceNotFound) return Status::NotFound(ns);
    return Status::IOError("NSINFO " + ns + ": " + r->str);
  }
  std::map<std::string, std::string> info;
  const std::string& s = r->str;
  for (size_t pos = 0; pos < s.size();) {
    size_t end = s.find('\n', pos);
    if (end == std::string::npos) end = s.size();
    std::string line = s.substr(pos, end - pos);
    size_t colon = line.find(": ");
    if (colon != std::string::npos) info[line.substr(0, colon)] = line.substr(colon + 2);
    pos = end + 1;
  }
  return info;
}

const char* ModeWord(bool user) { return user ? "user" : "seq"; }
const char* NsInfoMode(bool user) { return user ? "userkey" : "sequential"; }

// Hint for the refusals an operator can fix on the zdb side.
Status Explain(Status s) {
  if (s.message().find("Permission denied") != std::string::npos)
    return Status::PermissionDenied(s.message() + " (zdb has an admin password: give it with --admin-password-file)");
  if (s.message().find("single runtime mode") != std::string::npos)
    return Status::InvalidArgument(s.message() +
                                   " (zdb runs with a fixed --mode; zstor sets each namespace's mode: start it "
                                   "without --mode and without `mode` in its config)");
  return s;
}

// Brings a namespace without password (just created, or left by an
// interrupted init) to its final state. The password is set last.
Status Finish(qs::ZdbClient& c, const NamespaceSpec& spec, const std::string& current_mode) {
  const std::string& ns = spec.address.ns;
  if (current_mode != NsInfoMode(spec.user_mode)) {
    auto r = Call(c, {"NSSET", ns, "mode", ModeWord(spec.user_mode)}, std::string("NSSET ") + ns + " mode " + ModeWord(spec.user_mode));
    if (!r.ok()) return Explain(r.status());
  }
  if (spec.address.password.empty()) return Status::OK();  // a hand-written config without one: none set
  auto pub = Call(c, {"NSSET", ns, "public", "0"}, "NSSET " + ns + " public 0");
  if (!pub.ok()) return Explain(pub.status());
  auto pw = Call(c, {"NSSET", ns, "password", spec.address.password}, "NSSET " + ns + " password");
  if (!pw.ok()) return Explain(pw.status());
  auto sel = Call(c, {"SELECT", ns, spec.address.password}, "SELECT " + ns);
  if (!sel.ok()) return sel.status();
  return Status::OK();
}

}  // namespace

Status CheckBackendAnswers(const qs::ZdbAddress& address, const NamespaceSetupOptions& options) {
  qs::ZdbAddress a = address;
  a.ns.clear();
  a.password.clear();
  qs::ZdbClient c(a, ClientOptions(options));
  return Greet(c, options);
}

NamespaceOutcome SetupNamespace(const NamespaceSpec& spec, const NamespaceSetupOptions& options) {
  qs::ZdbAddress a = spec.address;
  a.ns.clear();  // SELECT comes later, by hand
  a.password.clear();
  const std::string& ns = spec.address.ns;
  qs::ZdbClient c(a, ClientOptions(options));
  Status s = Greet(c, options);
  if (!s.ok()) return {s, ""};
  auto info = NsInfo(c, ns);
  if (!info.ok() && info.status().IsNotFound()) {
    auto r = Call(c, {"NSNEW", ns}, "NSNEW " + ns);
    if (!r.ok()) return {Explain(r.status()), ""};
    info = NsInfo(c, ns);
    if (!info.ok()) return {info.status(), ""};
    s = Finish(c, spec, (*info)["mode"]);
    return {s, s.ok() ? "created" : ""};
  }
  if (!info.ok()) return {info.status(), ""};
  const std::string entries = (*info)["entries"];
  bool open = (*info)["password"] != "yes";
  if (open && spec.address.password.empty()) {
    // A hand-written config that names a namespace without password: it
    // matches; only the mode is checked.
  } else if (open) {
    if (entries != "0")
      return {Status::AlreadyExists("namespace " + ns + " exists without a password and holds " + entries +
                                    " keys: zstor init did not make it; left as it is"),
              ""};
    s = Finish(c, spec, (*info)["mode"]);
    return {s, s.ok() ? "finished" : ""};
  }
  if (!open && spec.address.password.empty())
    return {Status::PermissionDenied("namespace " + ns + " has a password and the config gives none: left as it is"), ""};
  auto sel = open ? c.Command({"SELECT", ns}) : c.Command({"SELECT", ns, spec.address.password});
  if (!sel.ok()) return {Status::Unavailable("SELECT " + ns + ": " + sel.status().message()), ""};
  if (sel->is_error()) {
    if (qs::ParseZdbError(sel->str) == qs::ZdbError::kAccessDenied)
      return {Status::PermissionDenied("namespace " + ns +
                                       " exists with another password than the config's: left as it is (another "
                                       "zstor's namespace? give this machine its own --prefix)"),
              ""};
    return {Status::IOError("SELECT " + ns + ": " + sel->str), ""};
  }
  if ((*info)["mode"] != NsInfoMode(spec.user_mode)) {
    if (entries != "0")
      return {Status::InvalidArgument("namespace " + ns + " is in mode " + (*info)["mode"] + " and holds " + entries +
                                      " keys; zstor needs mode " + NsInfoMode(spec.user_mode) + ": left as it is"),
              ""};
    auto r = Call(c, {"NSSET", ns, "mode", ModeWord(spec.user_mode)}, std::string("NSSET ") + ns + " mode " + ModeWord(spec.user_mode));
    if (!r.ok()) return {Explain(r.status()), ""};
    return {Status::OK(), "mode set"};
  }
  return {Status::OK(), "checked"};
}

}  // namespace zstor
