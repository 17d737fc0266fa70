#!/usr/bin/env bash
# The test command of the README and of CI: installs what is missing (Debian 12), builds in
# release mode, and runs every test. BUILDDIR overrides the build folder (default: build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BUILDDIR:-$root/build}

"$root/.ci/configure-build" "$builddir"
meson compile -C "$builddir"

status=0
meson test -C "$builddir" --print-errorlogs --num-processes 2 || status=$?

# One closing line that counts every test case: meson's JUnit log lists each GoogleTest case
# and each script test once.
python3 - "$builddir/meson-logs/testlog.junit.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    root = ET.Element("testsuites")
if True:
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None or case.get("result") == "skipped":
            skipped += 1
        else:
            passed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
