// The command handlers, one function a command as in Redis, grouped by the
// file that holds them. The table that names them is CommandTable()
// (commands.cc, declared in server.h); handlers run only through it, after
// Server::Dispatch's arity, admin and namespace checks.
#pragma once

#include "zdb/server.h"

namespace zdb {

// commands_connection.cc
void PingCommand(Server& srv, Client& c, const Args& argv);
void TimeCommand(Server& srv, Client& c, const Args& argv);
void InfoCommand(Server& srv, Client& c, const Args& argv);
void QuitCommand(Server& srv, Client& c, const Args& argv);
void CommandCommand(Server& srv, Client& c, const Args& argv);
void ClientCommand(Server& srv, Client& c, const Args& argv);
void StopCommand(Server& srv, Client& c, const Args& argv);
void AuthCommand(Server& srv, Client& c, const Args& argv);
void WaitCommand(Server& srv, Client& c, const Args& argv);

// commands_namespace.cc
void SelectCommand(Server& srv, Client& c, const Args& argv);
void DbsizeCommand(Server& srv, Client& c, const Args& argv);
void NsnewCommand(Server& srv, Client& c, const Args& argv);
void NsdelCommand(Server& srv, Client& c, const Args& argv);
void NslistCommand(Server& srv, Client& c, const Args& argv);
void NsinfoCommand(Server& srv, Client& c, const Args& argv);
void NssetCommand(Server& srv, Client& c, const Args& argv);
void NsjumpCommand(Server& srv, Client& c, const Args& argv);
void ReloadCommand(Server& srv, Client& c, const Args& argv);
void FlushCommand(Server& srv, Client& c, const Args& argv);
void FsyncCommand(Server& srv, Client& c, const Args& argv);
void FenceCommand(Server& srv, Client& c, const Args& argv);

// commands_data.cc
void SetCommand(Server& srv, Client& c, const Args& argv);
void GetCommand(Server& srv, Client& c, const Args& argv);
void MgetCommand(Server& srv, Client& c, const Args& argv);
void DelCommand(Server& srv, Client& c, const Args& argv);
void ExistsCommand(Server& srv, Client& c, const Args& argv);
void CheckCommand(Server& srv, Client& c, const Args& argv);
void LengthCommand(Server& srv, Client& c, const Args& argv);
void KeytimeCommand(Server& srv, Client& c, const Args& argv);
void ProveCommand(Server& srv, Client& c, const Args& argv);
void ScanCommand(Server& srv, Client& c, const Args& argv);
void RscanCommand(Server& srv, Client& c, const Args& argv);
void KeycurCommand(Server& srv, Client& c, const Args& argv);
void HistoryCommand(Server& srv, Client& c, const Args& argv);

// commands_admin.cc
void HooksCommand(Server& srv, Client& c, const Args& argv);
void IndexCommand(Server& srv, Client& c, const Args& argv);
void DataCommand(Server& srv, Client& c, const Args& argv);

}  // namespace zdb
