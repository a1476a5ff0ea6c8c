#include "common/version.h"

#include <cstdio>
#include <cstring>

namespace qs {

bool VersionRequested(int argc, char** argv) {
  return argc == 2 && std::strcmp(argv[1], "--version") == 0;
}

int PrintVersion(const char* program) {
  std::printf("%s %s (git %s)\n", program, kVersion, kGitRevision);
  std::printf("qsfs-stack, Apache License 2.0\n");
  return std::fflush(stdout) == 0 && !std::ferror(stdout) ? 0 : 1;
}

}  // namespace qs
