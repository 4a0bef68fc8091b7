#!/bin/sh
# shellcheck disable=SC2154  # rc and out: set by `try`, in retry.sh, put before this script
# Asks each address whether it speaks TLS on one port: $1 is nc's connect timeout in
# seconds, $2 the port, then the addresses. nc runs ssl_exchange.sh (in $PROBE_SSL) over
# the connection. `try`, $rc and $out: retry.sh.
set -f  # $out is split into words below, never expanded as a pattern
t=$1; port=$2; shift 2
for address in "$@"; do
  try timeout $((t + 5)) nc -w "$t" "$address" "$port" -e sh -c "$PROBE_SSL" </dev/null
  # shellcheck disable=SC2086  # $out unquoted: its words (of any number of lines) on this one line
  echo "@@ssl $address $rc" $out
done
echo "@@done"
