// Makes one zstor namespace ready on one zdb backend, for `zstor init` and
// `zstor add-backend`: the backend answers, the admin password is accepted,
// the namespace exists in the right mode, private, with the password the
// config holds. What exists is checked and never overwritten: a namespace
// whose password is not the config's is an error (docs/operations.md,
// "Configure with zstor init").
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"
#include "common/zdb_client.h"

namespace zstor {

struct NamespaceSpec {
  qs::ZdbAddress address;  // the backend, with ns and password set
  bool user_mode = false;  // meta namespaces: user-key mode; data: sequential
};

struct NamespaceSetupOptions {
  std::string admin_password;  // sent with AUTH; empty: none sent
  // Bounds connecting and each request: a backend that does not answer
  // within it is reported, never waited for longer.
  std::chrono::milliseconds timeout{5000};
};

struct NamespaceOutcome {
  qs::Status status;  // OK: the namespace is ready for zstor
  // What was done, for the operator: "created", "checked", "finished"
  // (an earlier interrupted creation completed) or "mode set".
  std::string done;
};

// PING and AUTH only: changes nothing on the backend.
qs::Status CheckBackendAnswers(const qs::ZdbAddress& address, const NamespaceSetupOptions& options);

// Creates the namespace when missing (NSNEW, mode, private, password last,
// so a namespace with a password is always complete), or checks it:
// SELECT with the config's password, mode. Never changes the password of
// a namespace that has one.
NamespaceOutcome SetupNamespace(const NamespaceSpec& spec, const NamespaceSetupOptions& options);

}  // namespace zstor
