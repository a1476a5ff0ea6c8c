// The command table, as Redis keeps one: each command's name, arity, flags,
// handler and arity error. Arity, admin and namespace checks run once in
// Server::Dispatch; handlers (commands_*.cc) validate only their own
// arguments. Reply shapes and error texts follow 0-db (docs/zdb-protocol.md).
#include "zdb/commands.h"

#include "zdb/server.h"

namespace zdb {

const std::unordered_map<std::string, CommandSpec>& CommandTable() {
  static const std::unordered_map<std::string, CommandSpec> table = [] {
    const CommandSpec specs[] = {
        // name       arity flags                            handler          arity error
        {"PING", -1, 0, PingCommand, E::kUnexpectedArguments},
        {"TIME", 1, 0, TimeCommand, E::kUnexpectedArguments},
        {"INFO", -1, 0, InfoCommand, E::kUnexpectedArguments},
        {"QUIT", 1, 0, QuitCommand, E::kUnexpectedArguments},
        {"COMMAND", -1, 0, CommandCommand, E::kUnexpectedArguments},
        {"CLIENT", -2, 0, ClientCommand, E::kUnexpectedArguments},
        {"STOP", 1, kCmdAdmin, StopCommand, E::kUnexpectedArguments},
        {"AUTH", -2, 0, AuthCommand, E::kUnexpectedArguments},
        {"WAIT", -2, kCmdNamespace, WaitCommand, E::kInvalidArguments},
        {"SELECT", -2, 0, SelectCommand, E::kInvalidArgument},
        {"DBSIZE", 1, kCmdNamespace, DbsizeCommand, E::kUnexpectedArguments},
        {"NSNEW", 2, kCmdAdmin, NsnewCommand, E::kUnexpectedArguments},
        {"NSDEL", 2, kCmdAdmin, NsdelCommand, E::kUnexpectedArguments},
        {"NSLIST", 1, 0, NslistCommand, E::kUnexpectedArguments},
        {"NSINFO", 2, 0, NsinfoCommand, E::kUnexpectedArguments},
        {"NSSET", 4, kCmdAdmin, NssetCommand, E::kUnexpectedArguments},
        {"NSJUMP", 1, kCmdAdmin | kCmdNamespace, NsjumpCommand, E::kUnexpectedArguments},
        {"RELOAD", 2, kCmdAdmin, ReloadCommand, E::kUnexpectedArguments},
        {"FLUSH", 1, kCmdNamespace | kCmdWrite, FlushCommand, E::kUnexpectedArguments},
        {"FSYNC", 1, kCmdNamespace, FsyncCommand, E::kUnexpectedArguments},
        {"FENCE", 2, kCmdNamespace | kCmdWrite, FenceCommand, E::kUnexpectedArguments},
        {"SET", -3, kCmdNamespace | kCmdWrite, SetCommand, E::kUnexpectedArguments},
        {"SETX", -3, kCmdNamespace | kCmdWrite, SetCommand, E::kUnexpectedArguments},
        {"GET", 2, kCmdNamespace, GetCommand, E::kUnexpectedArguments},
        {"MGET", -2, kCmdNamespace, MgetCommand, E::kInvalidArguments},
        {"DEL", -2, kCmdNamespace | kCmdWrite, DelCommand, E::kUnexpectedArguments},
        {"EXISTS", 2, kCmdNamespace, ExistsCommand, E::kUnexpectedArguments},
        {"CHECK", 2, kCmdNamespace, CheckCommand, E::kUnexpectedArguments},
        {"LENGTH", 2, kCmdNamespace, LengthCommand, E::kUnexpectedArguments},
        {"KEYTIME", 2, kCmdNamespace, KeytimeCommand, E::kUnexpectedArguments},
        {"SCAN", -1, kCmdNamespace, ScanCommand, E::kUnexpectedArguments},
        {"SCANX", -1, kCmdNamespace, ScanCommand, E::kUnexpectedArguments},
        {"RSCAN", -1, kCmdNamespace, RscanCommand, E::kUnexpectedArguments},
        {"KEYCUR", 2, kCmdNamespace, KeycurCommand, E::kUnexpectedArguments},
        {"HISTORY", -2, kCmdNamespace, HistoryCommand, E::kInvalidArguments},
        {"PROVE", 3, kCmdNamespace, ProveCommand, E::kUnexpectedArguments},
        {"HOOKS", 1, kCmdAdmin, HooksCommand, E::kUnexpectedArguments},
        {"INDEX", -2, kCmdAdmin | kCmdNamespace, IndexCommand, E::kMissingArguments},
        {"DATA", -2, kCmdAdmin | kCmdNamespace, DataCommand, E::kMissingArguments},
    };
    std::unordered_map<std::string, CommandSpec> t;
    for (const auto& s : specs) t.emplace(s.name, s);
    return t;
  }();
  return table;
}

}  // namespace zdb
