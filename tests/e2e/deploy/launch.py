#!/usr/bin/env python3
"""Starts a unit's main process the way systemd does for the deploy test.

  launch.py PIDFILE LOGFILE NOTIFY_SOCKET|- TIMEOUT -- COMMAND...

Binds NOTIFY_SOCKET (when not "-") before starting COMMAND in a new session
with NOTIFY_SOCKET in its environment, writes its pid to PIDFILE, and with a
socket waits until COMMAND sends READY=1 (exit 0), exits or TIMEOUT seconds
pass (exit 1, saying which). COMMAND keeps running after this exits.
"""
import os
import socket
import subprocess
import sys
import time


def main():
    pidfile, logfile, notify, timeout = sys.argv[1:5]
    if sys.argv[5] != "--":
        sys.exit("usage: launch.py PIDFILE LOGFILE NOTIFY_SOCKET|- TIMEOUT -- COMMAND...")
    command = sys.argv[6:]
    env = dict(os.environ)
    sock = None
    if notify != "-":
        if os.path.exists(notify):
            os.unlink(notify)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(notify)
        os.chmod(notify, 0o777)  # the daemon may run as another user
        env["NOTIFY_SOCKET"] = notify
    with open(logfile, "ab") as log:
        child = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 start_new_session=True)
    with open(pidfile, "w") as f:
        f.write(f"{child.pid}\n")
    if sock is None:
        return 0
    sock.settimeout(0.5)
    end = time.monotonic() + float(timeout)
    while time.monotonic() < end:
        try:
            msg = sock.recv(4096).decode(errors="replace")
        except socket.timeout:
            msg = ""
        if "READY=1" in msg.split("\n"):
            return 0
        if child.poll() is not None:
            print(f"exited with status {child.returncode} before READY=1", file=sys.stderr)
            return 1
    print(f"no READY=1 within {timeout} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
