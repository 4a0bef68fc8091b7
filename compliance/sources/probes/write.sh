#!/bin/sh
# Tries to write a file into a container's root filesystem, as the container's user, from
# a PID namespace where its main process is $1 (its own: 1; the host's: its engine pid);
# $2 is the container's id, which that pid's cgroup must name (empty: not checked); $3 the
# path inside the container, without its leading /. Removes what it wrote.
set -f  # $out is split into words below, never expanded as a pattern
p=$1; cid=$2; f=/proc/$1/root/$3
if [ -n "$cid" ] && ! grep -q "$cid" "/proc/$p/cgroup" 2>/dev/null; then
  echo "@@identity pid $p is not the target's main process"; echo "@@done"; exit 0
fi
if ! out=$(ls -d "/proc/$p/root/" 2>&1); then
  # shellcheck disable=SC2086  # $out unquoted: its words (of any number of lines) on this one line
  echo "@@access" $out; echo "@@done"; exit 0
fi
out=$( (printf passq > "$f") 2>&1 ); rc=$?
left=0; removed=-
if [ -e "$f" ] || [ -L "$f" ]; then
  left=1; rm -f "$f" 2>/dev/null
  if [ -e "$f" ]; then removed=0; else removed=1; fi
fi
# shellcheck disable=SC2086  # $out unquoted: its words (of any number of lines) on this one line
echo "@@write $rc $left $removed" $out
echo "@@done"
