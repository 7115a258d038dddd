#!/usr/bin/env bash
# Prints, for each target that `make test` saw fail (a <target>.failed beside its log), the lines
# of its log that say why, with some context: the last thing CI shows of a failed run.
set -uo pipefail
logs=${1:?usage: test-failures.sh <test-logs directory>}
shopt -s nullglob
for marker in "$logs"/*.failed; do
  target=$(basename "$marker" .failed)
  log=$logs/$target.log
  echo "::: $target FAILED; what its log ($log) says of it:"
  # Ansible's failed tasks, molecule's and pytest's errors, tracebacks; else the log's end.
  pattern='fatal: |failed: \[|FAILED!|^(\[[a-z0-9_]+\] )?(ERROR|E   |FAILED )|Traceback'
  if grep -q -E "$pattern" "$log"; then
    grep -n -E -A 12 "$pattern" "$log" | cut -c1-400 | tail -n 120
  else
    tail -n 40 "$log" | cut -c1-400
  fi
done
