// What the zstor CLI prints: one function per result type, human or JSON
// (--json), the same whether the daemon or this process ran the command.
// Each Print* returns the command's exit status where the result decides it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "zstor/fragment_sweep.h"
#include "zstor/object_store.h"
#include "zstor/replies.h"

namespace zstor {

std::string HumanBytes(uint64_t n);  // "1.5 MiB"

// A one-line progress bar on a terminal (stderr); null otherwise.
Progress ProgressBar(const std::string& what);

// 0 when the object is readable, else 1.
int PrintCheck(const std::string& object, const CheckReport& r, bool json);
void PrintList(const std::vector<ObjectSummary>& l, bool json);
// staging: null when unknown or off.
void PrintStatus(const std::vector<BackendRow>& rows, const StagingStats* staging, bool json);
// 0 when no backend was skipped, else 1.
int PrintSweep(const SweepReport& r, bool dry_run, bool json);
// "{"ok": true, "key": K}" or "<done> K", e.g. "stored /a".
void PrintDone(const char* done, const std::string& object, bool json);
void PrintRetrieved(const std::string& object, const std::string& dest, bool json);
void PrintRebuilt(const std::string& object, uint64_t n, bool json);
// repair, scrub: objects repaired / found damaged and rebuilt.
void PrintRound(const std::string& command, uint64_t objects, bool json);
// The error on stdout (JSON) or stderr; always 1.
int Fail(bool json, const qs::Status& s);

}  // namespace zstor
