// `zstor init` and `zstor add-backend`: a working config from backend
// addresses alone, and the namespaces it names made ready on the backends
// (docs/operations.md, "Configure with zstor init"). The config is written
// before any backend is touched, so running the same command again resumes
// an interrupted init; run again, nothing is generated anew.
#pragma once

#include <string>
#include <vector>

namespace zstor {

// `zstor -c config_path init ARGS...` (args: what follows "init"). Prints
// what it did per backend (json: one JSON object) and the file to back up.
// Returns the exit status: 0 every backend ready, 1 some backend not ready
// (named), 2 bad usage or a config that does not match the arguments.
int RunInit(const std::string& config_path, const std::vector<std::string>& args, bool json);

// `zstor -c config_path add-backend --group N ADDR [--labels k=v,...]`:
// appends a data backend to group N of the config and creates its
// namespace. Same exit statuses as RunInit.
int RunAddBackend(const std::string& config_path, const std::vector<std::string>& args, bool json);

// The default prefix: the short host name in lower case, every character
// outside [a-z0-9-] replaced by '-' ("zstor" when nothing is left).
std::string DefaultPrefix();

}  // namespace zstor
