// Resident memory per key of zdb's in-memory index, in sequential mode and in
// user mode (32-byte keys), at N keys (default 10 million), with redis-server
// on the same user-mode keys as a peer. Prints a table; asserts nothing.
//   zdb_memory_bench --zdb PATH [--keys N] [--redis PATH]
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

long RssBytes(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6) * 1024;
  }
  return -1;
}

pid_t Spawn(std::vector<std::string> args, const std::string& log) {
  std::fflush(stdout);  // the child must not repeat buffered output
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    FILE* f = freopen(log.c_str(), "w", stdout);
    (void)f;
    dup2(STDOUT_FILENO, STDERR_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

redisContext* ConnectWait(int port) {
  for (int i = 0; i < 400; ++i) {
    redisContext* c = redisConnect("127.0.0.1", port);
    if (c && c->err == 0) return c;
    if (c) redisFree(c);
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return nullptr;
}

// 32-byte printable key for index i (what a typical user-mode client sends).
std::string UserKey(uint64_t i) {
  char b[40];
  std::snprintf(b, sizeof(b), "user-key-%023llu", static_cast<unsigned long long>(i));
  return std::string(b, 32);
}

// Pipelines n SETs; seq mode sends empty keys.
bool Load(redisContext* c, uint64_t n, bool seq) {
  const std::string value = "8bytes!!";
  const uint64_t batch = 2000;
  for (uint64_t done = 0; done < n;) {
    uint64_t todo = std::min(batch, n - done);
    for (uint64_t i = 0; i < todo; ++i) {
      std::string key = seq ? std::string() : UserKey(done + i);
      const char* argv[3] = {"SET", key.data(), value.data()};
      size_t lens[3] = {3, key.size(), value.size()};
      redisAppendCommandArgv(c, 3, argv, lens);
    }
    for (uint64_t i = 0; i < todo; ++i) {
      void* r = nullptr;
      if (redisGetReply(c, &r) != REDIS_OK) return false;
      bool err = static_cast<redisReply*>(r)->type == REDIS_REPLY_ERROR;
      if (err) std::fprintf(stderr, "SET error: %s\n", static_cast<redisReply*>(r)->str);
      freeReplyObject(r);
      if (err) return false;
    }
    done += todo;
    if (done % 1000000 == 0) std::fprintf(stderr, "  %llu keys\r", static_cast<unsigned long long>(done));
  }
  std::fprintf(stderr, "\n");
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string zdb, redis = "redis-server";
  uint64_t keys = 10000000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--zdb") zdb = argv[i + 1];
    else if (k == "--keys") keys = std::strtoull(argv[i + 1], nullptr, 10);
    else if (k == "--redis") redis = argv[i + 1];
  }
  if (zdb.empty()) {
    std::fprintf(stderr, "usage: zdb_memory_bench --zdb PATH [--keys N] [--redis PATH]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/zdb_membench_XXXXXX";
  std::string dir = mkdtemp(tmpl);
  int port = 23000 + getpid() % 1000;
  std::printf("memory per key at %llu keys (RSS growth / keys)\n", static_cast<unsigned long long>(keys));
  std::printf("%-28s %12s %14s\n", "server / mode", "bytes/key", "limit");
  int rc = 0;
  for (int mode = 0; mode < 2; ++mode) {
    bool seq = mode == 0;
    std::string sub = dir + (seq ? "/seq" : "/user");
    pid_t pid = Spawn({zdb, "--data", sub + "/data", "--index", sub + "/index", "--listen", "127.0.0.1", "--port",
                       std::to_string(port), "--mode", seq ? "seq" : "user", "--fsync", "never",
                       "--compaction-ratio", "0"},
                      sub + ".log");
    redisContext* c = ConnectWait(port);
    if (c == nullptr) {
      std::fprintf(stderr, "zdb did not start\n");
      return 1;
    }
    long before = RssBytes(pid);
    if (!Load(c, keys, seq)) rc = 1;
    long after = RssBytes(pid);
    double per_key = static_cast<double>(after - before) / static_cast<double>(keys);
    double limit = seq ? 16.0 : 48.0 + 32.0;
    std::printf("%-28s %12.1f %14s\n", seq ? "zdb seq (8-byte ids)" : "zdb user (32-byte keys)", per_key,
                seq ? "16" : "48 + 32 = 80");
    if (per_key > limit) rc = 3;
    redisFree(c);
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    std::filesystem::remove_all(sub);
  }
  // Peer: redis-server holding the same 32-byte keys and 8-byte values.
  pid_t rpid = Spawn({redis, "--port", std::to_string(port), "--save", "", "--appendonly", "no", "--dir", dir}, dir + "/redis.log");
  redisContext* c = ConnectWait(port);
  if (c != nullptr) {
    long before = RssBytes(rpid);
    Load(c, keys, false);
    long after = RssBytes(rpid);
    std::printf("%-28s %12.1f %14s\n", "redis-server (32-byte keys)", static_cast<double>(after - before) / static_cast<double>(keys), "(peer)");
    redisFree(c);
  }
  kill(rpid, SIGTERM);
  waitpid(rpid, nullptr, 0);
  std::printf("%-28s %12s %14s\n", "0-db user (32-byte keys)", "~145", "(cited)");
  std::filesystem::remove_all(dir);
  if (rc == 3) std::printf("memory goal NOT met\n");
  return rc == 1 ? 1 : 0;
}
