// What command handlers share: argument parsing, the read and write access
// checks (docs/zdb-protocol.md, "Namespace flags"), the reply to a failed
// storage operation and the SECURE challenge. Every check that refuses has
// appended the error reply to c.out when it returns false.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "zdb/namespace.h"
#include "zdb/server.h"

namespace zdb {

std::string Str(std::string_view s);
std::string ToUpper(std::string_view s);
bool IEquals(std::string_view a, std::string_view b);  // ASCII, case-insensitive
// A decimal int64 of at most 20 characters, nothing else.
bool ParseInt64(std::string_view s, int64_t* out);

// SECURE authentication: the hex challenge CLIENT/AUTH SECURE CHALLENGE hands
// out, and the hex SHA-1 a client answers with ("nonce:password").
std::string NewNonce();
std::string Sha1Hex(const std::string& in);

// A key argument: 1..kMaxKeySize bytes.
bool KeyArg(Client& c, std::string_view key);
// Optional admin-only timestamp at argv[index], the last argument allowed.
bool TimestampArg(Client& c, const Args& argv, size_t index, uint64_t* timestamp);

// Read access: a frozen namespace refuses reads and writes.
bool CheckRead(Client& c, Namespace* ns);
// Write access, in 0-db's order: the session's rights, frozen, locked. Only
// handlers of commands the table flags kCmdWrite may call it (asserted).
bool CheckWriteAccess(Client& c, Namespace* ns);
// CheckWriteAccess, then the fence (zdb/fence.h).
bool CheckWrite(Client& c, Namespace* ns);

// Replies to a failed storage operation; returns true when the client was
// blocked to fetch a missing segment (the command re-runs later).
bool ReplyStorageError(Server& srv, Client& c, const Args& argv, Namespace* ns, const qs::Status& s,
                       uint32_t missing_segment);

}  // namespace zdb
