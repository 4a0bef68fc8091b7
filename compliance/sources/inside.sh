#!/bin/sh
# The engine host's view of the stack's containers (compliance/sources/inside.py), run
# as `sh -c` on the engine host or in a probe container in its PID namespace.
# $1 is the proc root, $2 the paths every container resolves (joined by "|"); then
# (container id, main pid, program paths joined by "|") triples.
# Builtins only where it runs once per container: a fork per container adds up on a large
# stack (benchmarks/README.md).
# resolve ROOT PATH: sets $out to PATH with every symlink resolved inside ROOT (an absolute
# link target is the container's, not this host's: /proc/<pid>/root/var/run -> /run means
# ROOT/run)
resolve() {
  root=$1; rest=${2#/}; done=""; hops=0
  while [ -n "$rest" ]; do
    case $rest in */*) part=${rest%%/*}; rest=${rest#*/} ;; *) part=$rest; rest="" ;; esac
    case $part in ""|.) continue ;; ..) done=${done%/*}; continue ;; esac
    if [ -L "$root$done/$part" ] && [ $hops -lt 40 ]; then
      hops=$((hops + 1)); t=$(readlink "$root$done/$part")
      case $t in /*) done=""; rest=${t#/}${rest:+/$rest} ;; *) rest=$t${rest:+/$rest} ;; esac
    else
      done=$done/$part
    fi
  done
  out=${done:-/}
}
proc=$1; resolved=$2; shift 2
pids=""
while [ $# -ge 3 ]; do
  id=$1; pid=$2; paths=$3; shift 3
  d=$proc/$pid; pids="$pids $pid"
  echo "@@container $id $pid"
  for f in "$d"/root/*; do break; done
  if ! { [ -e "$f" ] || [ -L "$f" ]; }; then echo "@@noroot"; continue; fi
  echo "@@secrets"
  for f in "$d"/root/run/secrets/* "$d"/root/run/secrets/.[!.]*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    stat -L -c '%F|%u|%g|%a|%n' "$f" 2>/dev/null || echo "broken|-1|-1|0|$f"
  done
  old=$IFS; IFS='|'
  echo "@@programs"
  for p in $paths; do
    [ "$p" = - ] && continue
    resolve "$d/root" "$p"
    if [ -e "$d/root$out" ]; then echo "+$p"; else echo "-$p"; fi
  done
  echo "@@resolved"
  for p in $resolved; do
    [ "$p" = - ] && continue
    resolve "$d/root" "$p"; printf '%s\t%s\n' "$p" "$out"
  done
  IFS=$old
done
echo "@@files"
for pid in $pids; do
  set -- "$@" "$proc/$pid/status" "$proc/$pid/mountinfo" "$proc/$pid/uid_map" "$proc/$pid/gid_map"
done
[ $# -gt 0 ] && grep -Hs "" "$@"
echo "@@processes"
grep -Hs "" "$proc"/[0-9]*/comm
echo "@@cgroups"
grep -Hs "" "$proc"/[0-9]*/cgroup
echo "@@pidns"
stat -L -c 'self %i' "$proc/$$/ns/pid" 2>/dev/null
stat -L -c '%n %i' "$proc"/[0-9]*/ns/pid 2>/dev/null
echo "@@namespaces"
for pid in self $pids; do
  [ "$pid" = self ] && d=$proc/$$ || d=$proc/$pid
  for ns in ipc uts; do printf '%s %s ' "$pid" "$ns"; stat -L -c %i "$d/ns/$ns" 2>/dev/null || echo -; done
done
echo "@@done"
