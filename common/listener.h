// Listening sockets for daemons: TCP (IPv4/IPv6) and Unix stream sockets.
// Returned descriptors are non-blocking and close-on-exec; the caller owns them.
#pragma once

#include <string>

#include "common/status.h"

namespace qs {

// Binds host:port ("0.0.0.0", "::", "127.0.0.1", ...). With dualnet and an
// IPv6 host, accepts IPv4 too (IPV6_V6ONLY off).
Result<int> ListenTcp(const std::string& host, int port, bool dualnet = false, int backlog = 4096);

// Binds a Unix socket at path, replacing a stale socket file left by a dead
// process but refusing to steal one another live process is serving.
Result<int> ListenUnix(const std::string& path, int backlog = 4096);

// accept4() wrapper: returns the client fd (non-blocking, cloexec, TCP_NODELAY
// for TCP), or -1 with errno set (EAGAIN when nothing is pending).
int AcceptClient(int listen_fd, std::string* peer_name);

Status SetNonBlocking(int fd);

}  // namespace qs
