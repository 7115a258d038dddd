#!/usr/bin/env bash
# Prints, for each target that `make test` saw fail (a <target>.failed beside its log), the lines
# of its log that say why: the last thing CI shows of a failed run, so it stays short (CI shows
# the tail of long output) and ends with the first failure and what the task printed of it.
set -uo pipefail
logs=${1:?usage: test-failures.sh <test-logs directory>}
shopt -s nullglob
for marker in "$logs"/*.failed; do
  target=$(basename "$marker" .failed)
  log=$logs/$target.log
  echo "::: $target FAILED; what its log ($log) says of it:"
  # Ansible's failed tasks (not the retries, not the failures a task ignores), molecule's and
  # pytest's errors, tracebacks: first each one's line, then the first one with its context.
  python3 - "$log" <<'PY'
import re
import sys

lines = open(sys.argv[1], errors="replace").read().splitlines()
cause = re.compile(r"fatal: \[|failed: \[|^(\[[a-z0-9_]+\] )?(ERROR|E   |FAILED |Traceback)")
ignored = re.compile(r"\.\.\.ignoring")
retry = re.compile(r"FAILED - RETRYING")
found = []
for number, line in enumerate(lines):
    if not cause.search(line) or retry.search(line):
        continue
    # Ansible prints "...ignoring" after the result of a task whose failure is ignored.
    following = lines[number + 1 : number + 40]
    end = next((i for i, text in enumerate(following) if re.search(r"\] (TASK|PLAY|RUNNING HANDLER) \[|^(\[[a-z0-9_]+\] )?$", text)), len(following))
    if any(ignored.search(text) for text in following[: end + 1]):
        continue
    found.append(number)
if not found:
    print("\n".join(text[:400] for text in lines[-40:]))
    sys.exit()
for number in found[:8]:
    print(f"{number + 1}: {lines[number][:200]}")
first = found[0]
task = next((i for i in range(first, max(first - 200, -1), -1) if re.search(r"\] TASK \[", lines[i])), first)
print(f"--- the first of them (its task at line {task + 1}):")
if task < first - 8:
    print(f"{task + 1}: {lines[task][:300]}")
for number in range(max(task, first - 8), min(first + 28, len(lines))):
    print(f"{number + 1}: {lines[number][:300]}")
PY
done
