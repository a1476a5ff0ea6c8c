// Fencing tokens (FENCE, docs/zdb-protocol.md). A namespace's fence is the
// highest token any session has presented, kept in its descriptor. Once it
// is non-zero only the sessions holding exactly that token write: a writer
// that lost its lease to a higher token is refused whatever it believes.
// A namespace that never saw FENCE (fence 0) is not checked at all.
#pragma once

#include <string_view>

#include "zdb/namespace.h"
#include "zdb/server.h"

namespace zdb {

// The token the session holds on ns: 0 unless it was given there.
uint64_t SessionToken(const Client& c, const Namespace& ns);

// Write check: true when ns is unfenced or the session holds its fence;
// otherwise appends the -Fenced error to c.out and returns false.
bool CheckFence(Client& c, const Namespace& ns);

// FENCE <token> on the client's namespace, write access already checked:
// raises the fence (descriptor persisted before the reply), joins it, or
// refuses an older token. Replies in every case; true when the fence was
// raised (the descriptor changed).
bool ApplyFence(Client& c, Namespace* ns, std::string_view token_arg);

}  // namespace zdb
