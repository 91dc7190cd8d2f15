#!/usr/bin/env python3
"""Print a free loopback TCP port, never one already handed out to the same
shell: two quick binds to port 0 can return the same port. The shell's PID
(argv[1]) names the file under TMPDIR that keeps its ports; the files of
shells that have exited are removed.

Used by every free_port of the bench and peer scripts:
    free_port() { python3 "$ROOT/test/free_port.py" "$$"; }
"""
import glob
import os
import socket
import sys
import tempfile

PREFIX = os.path.join(tempfile.gettempdir(), "wabridge-ports.")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main():
    shell = int(sys.argv[1])
    for f in glob.glob(PREFIX + "*"):
        rest = f[len(PREFIX):]
        if rest.isdigit() and int(rest) != shell and not alive(int(rest)):
            try:
                os.remove(f)
            except OSError:
                pass
    path = PREFIX + str(shell)
    used = set(open(path).read().split()) if os.path.exists(path) else set()
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
        s.close()
        if port not in used:
            break
    with open(path, "a") as f:
        f.write(port + "\n")
    print(port)


main()
