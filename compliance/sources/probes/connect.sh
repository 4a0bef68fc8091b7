#!/bin/sh
# shellcheck disable=SC2154  # rc and out: set by `try`, in retry.sh, put before this script
# Connects from inside the source container's network namespace: $1 is nc's connect
# timeout in seconds, then (attempt id, address, port) triples. `try`, $rc and $out: retry.sh.
# Every connect is tried twice, the second SYN a quarter second after the first, each
# given nc's connect timeout ($1, 1 s): a flow counts as unanswered only when neither was
# answered. That is the two chances one connect had in a 2 s window (its SYN, and the
# kernel's retransmission after 1 s), in 1.25 s, and a SYN dropped once (a listener's full
# backlog) no longer leaves a single chance. Each attempt prints its own line.
set -f  # $out is split into words below, never expanded as a pattern
t=$1; shift
attempt() {
  try timeout $((t + 3)) nc -w "$t" "$2" "$3" -e true </dev/null
  # shellcheck disable=SC2086  # $out unquoted: its words (of any number of lines) on this one line
  echo "@@connect $1 $rc" $out
}
round() { while [ $# -ge 3 ]; do attempt "$1" "$2" "$3" & shift 3; done; }
round "$@"; sleep 0.25; round "$@"
wait
echo "@@done"
