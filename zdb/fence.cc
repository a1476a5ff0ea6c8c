#include "zdb/fence.h"

#include <charconv>
#include <string>

#include "common/resp_writer.h"

namespace zdb {

namespace resp = qs::resp;

uint64_t SessionToken(const Client& c, const Namespace& ns) {
  return c.fence_ns == ns.name() ? c.fence_token : 0;
}

bool CheckFence(Client& c, const Namespace& ns) {
  const uint64_t fence = ns.settings().fence;
  if (fence == 0) return true;
  const uint64_t token = SessionToken(c, ns);
  if (token == fence) return true;
  if (token == 0) {
    AppendZdbError(&c.out, E::kFenced,
                   "this session holds no token and the namespace's fence is " + std::to_string(fence) +
                       " (send FENCE first)");
  } else {
    AppendZdbError(&c.out, E::kFenced,
                   "this session's token " + std::to_string(token) + " is older than the namespace's fence " +
                       std::to_string(fence));
  }
  return false;
}

bool ApplyFence(Client& c, Namespace* ns, std::string_view token_arg) {
  uint64_t token = 0;
  auto [end, ec] = std::from_chars(token_arg.data(), token_arg.data() + token_arg.size(), token);
  if (ec != std::errc() || end != token_arg.data() + token_arg.size() || token == 0) {
    AppendZdbError(&c.out, E::kInvalidToken);
    return false;
  }
  const uint64_t fence = ns->settings().fence;
  if (token < fence) {
    AppendZdbError(&c.out, E::kFenced,
                   "token " + std::to_string(token) + " is older than the namespace's fence " + std::to_string(fence));
    return false;
  }
  if (token > fence) {
    NamespaceSettings s = ns->settings();
    s.fence = token;
    qs::Status st = ns->UpdateSettings(s);  // the descriptor is on disk before +OK
    if (!st.ok()) {
      AppendZdbError(&c.out, E::kInternalErrorWhy, st.message());
      return false;
    }
  }
  c.fence_ns = ns->name();
  c.fence_token = token;
  resp::AppendOk(&c.out);
  return token > fence;
}

}  // namespace zdb
