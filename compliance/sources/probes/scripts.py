"""The shell scripts the probe containers run (busybox sh, nc, timeout, dd, od).

Each probe prints "@@<kind> <fields...>" lines and "@@done" last: a probe
without "@@done" did not finish, and its observations are incomplete
(compliance/sources/probes/parse.py reads them).
"""

SSL_REQUEST = "\\000\\000\\000\\010\\004\\322\\026\\057"  # length 8, code 80877103 (octal, for printf)

# A listener that serves one connection at a time refuses a second one while it serves
# the first (another probe kind hitting the same port at that moment is enough), so a
# refused connect is tried again, a few times, before it counts as refused: what a
# probe observes must not depend on which other probes ran at the same time.
RETRY_REFUSED = """
try() {
  n=0
  while :; do
    out=$("$@" 2>&1); rc=$?
    case "$out" in *efused*) ;; *) break ;; esac
    n=$((n + 1)); [ $n -ge 12 ] && break
    sleep 0.25
  done
}
"""
# Every connect is tried twice, the second SYN a quarter second after the first, each
# given nc's connect timeout ($1, 1 s): a flow counts as unanswered only when neither was
# answered. That is the two chances one connect had in a 2 s window (its SYN, and the
# kernel's retransmission after 1 s), in 1.25 s, and a SYN dropped once (a listener's full
# backlog) no longer leaves a single chance. Each attempt prints its own line.
CONNECT_SCRIPT = RETRY_REFUSED + """
t=$1; shift
attempt() {
  try timeout $((t + 3)) nc -w "$t" "$2" "$3" -e true </dev/null
  echo "@@connect $1 $rc" $out
}
round() { while [ $# -ge 3 ]; do attempt "$1" "$2" "$3" & shift 3; done; }
round "$@"; sleep 0.25; round "$@"
wait
echo "@@done"
"""
SSL_SCRIPT = RETRY_REFUSED + """
t=$1; port=$2; shift 2
for address in "$@"; do
  try timeout $((t + 5)) nc -w "$t" "$address" "$port" -e sh -c "$PROBE_SSL" </dev/null
  echo "@@ssl $address $rc" $out
done
echo "@@done"
"""
SSL_EXCHANGE = (f'printf "{SSL_REQUEST}"; '
                 "timeout 3 dd bs=1 count=1 2>/dev/null | od -An -tx1 >&2")
WRITE_SCRIPT = """
p=$1; cid=$2; f=/proc/$1/root/$3
if [ -n "$cid" ] && ! grep -q "$cid" /proc/$p/cgroup 2>/dev/null; then
  echo "@@identity pid $p is not the target's main process"; echo "@@done"; exit 0
fi
if ! out=$(ls -d /proc/$p/root/ 2>&1); then echo "@@access" $out; echo "@@done"; exit 0; fi
out=$( (printf passq > "$f") 2>&1 ); rc=$?
left=0; removed=-
if [ -e "$f" ] || [ -L "$f" ]; then
  left=1; rm -f "$f" 2>/dev/null
  if [ -e "$f" ]; then removed=0; else removed=1; fi
fi
echo "@@write $rc $left $removed" $out
echo "@@done"
"""
