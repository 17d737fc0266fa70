#!/usr/bin/env python3
"""Runs a command that must fail because Valgrind memcheck reported a conditional jump on
uninitialised (secret-marked) bytes: passes only if the command exits non-zero AND its stderr
holds that report. A valgrind that cannot start, or a crash, fails this check."""
import subprocess
import sys

REPORT = "Conditional jump or move depends on uninitialised value"

done = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=False)
if done.returncode != 0 and REPORT in done.stderr:
    sys.exit(0)
sys.stderr.write(done.stderr)
sys.stderr.write("expected a non-zero exit with memcheck's report %r; got exit %d\n"
                 % (REPORT, done.returncode))
sys.exit(1)
