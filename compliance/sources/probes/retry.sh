#!/bin/sh
# shellcheck disable=SC2034  # rc: read by the script put after this one
# try COMMAND...: runs COMMAND, and again while it is refused, and leaves its exit status in
# $rc and what it printed in $out. Put before each probe script that connects
# (compliance/sources/probes/scripts.py). A listener that serves one connection at a time
# refuses a second one while it serves the first (another probe kind hitting the same port
# at that moment is enough), so a refused connect is tried again, a few times, before it
# counts as refused: what a probe observes must not depend on which other probes ran at
# the same time.
try() {
  n=0
  while :; do
    out=$("$@" 2>&1); rc=$?
    case "$out" in *efused*) ;; *) break ;; esac
    n=$((n + 1)); [ $n -ge 12 ] && break
    sleep 0.25
  done
}
