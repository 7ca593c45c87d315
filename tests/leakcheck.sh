#!/bin/bash
# Runs after every other test: nothing the tests started may be left —
# no QEMU or helper process, no run dir, socket, RAM file or temp file.
# Leftovers are reported (failing the run) and then removed: they are ours.
set -u
ROOT=${KVMON_TEST_ROOT:?}
SHM=/dev/shm/$(basename "$ROOT")
n=0; failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }

procs=""
for p in /proc/[0-9]*; do
	pid=${p#/proc/}
	[ "$pid" = $$ ] && continue
	cmd=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null) || continue
	case "$cmd" in
	*"$ROOT/"*|*"process=kvmon-kt"*) procs="$procs $pid"; echo "# leftover process $pid: ${cmd:0:200}";;
	esac
done
ok "$([ -z "$procs" ]; echo $?)" "no process started by the tests is still running"
for pid in $procs; do kill -9 "$pid" 2>/dev/null; done

left=$(find "$ROOT" "$SHM" -mindepth 1 2>/dev/null; ls -d /dev/shm/kvmon-kt* 2>/dev/null)
[ -n "$left" ] && echo "$left" | head -20 | sed 's/^/# leftover: /'
ok "$([ -z "$left" ]; echo $?)" "no run dir, socket, RAM file or temp file left"
rm -rf "$ROOT" "$SHM" /dev/shm/kvmon-kt*
echo "1..$n"
exit $((failed ? 1 : 0))
