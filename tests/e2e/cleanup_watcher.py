"""Undoes what an end-to-end test changed on the machine, however the test ends.

The test starts this in a session of its own, waits for its "watching" line, and writes one
JSON action per line on its stdin as it makes each change. When stdin reaches end of file (the
test closed it, returned, raised, or was killed: meson's timeout sends SIGTERM and then SIGKILL
to the test's process group, which this process is not in), the actions run in reverse order.
Every action may find its work already done; failures are ignored, so the list always runs to
the end.

Actions:
  ["netns", NAME]        kill what still runs in the namespace, then delete it
  ["umount", PATH]       lazy unmount
  ["subtract", PATH, N]  lower the number in a file by N (hugepages given back; relative, so
                         two tests reserving pages at the same time do not undo each other)
  ["rmtree", PATH]       remove a directory tree
"""
import json
import os
import shutil
import signal
import subprocess
import sys


def undo(action):
    kind = action[0]
    if kind == "netns":
        pids = subprocess.run(["ip", "netns", "pids", action[1]], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", action[1]], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    elif kind == "umount":
        subprocess.run(["umount", "-l", action[1]], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    elif kind == "subtract":
        with open(action[1]) as f:
            current = int(f.read())
        with open(action[1], "w") as f:
            f.write(str(max(0, current - int(action[2]))))
    elif kind == "rmtree":
        shutil.rmtree(action[1], ignore_errors=True)


def main():
    # The test's end must not end this process too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("watching", flush=True)  # the test makes no change before it reads this
    actions = []
    for line in sys.stdin:
        try:
            actions.append(json.loads(line))
        except ValueError:
            pass
    for action in reversed(actions):
        try:
            undo(action)
        except OSError:
            pass


if __name__ == "__main__":
    main()
