#!/bin/bash
# Runs after every other test: nothing the tests started may be left —
# no QEMU or helper process, no run dir, socket, RAM file or temp file.
# Leftovers are reported (failing the run) and then removed: they are ours.
# Only this run's root is looked at (every VM the tests start has its run
# dir and RAM under $ROOT or $SHM), so concurrent runs do not interfere.
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
	*"$ROOT/"*) procs="$procs $pid"; echo "# leftover process $pid: ${cmd:0:200}";;
	esac
done
ok "$([ -z "$procs" ]; echo $?)" "no process started by the tests is still running"
for pid in $procs; do kill -9 "$pid" 2>/dev/null; done

# FUSE mounts (kvmon mount) under the test root: none may outlive a test.
mnts=$(awk -v r="$ROOT/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo)
[ -n "$mnts" ] && echo "$mnts" | sed 's/^/# leftover mount: /'
ok "$([ -z "$mnts" ]; echo $?)" "no FUSE mount left under the test root"
for m in $mnts; do fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done

left=$(find "$ROOT" "$SHM" -mindepth 1 2>/dev/null)
[ -n "$left" ] && echo "$left" | head -20 | sed 's/^/# leftover: /'
ok "$([ -z "$left" ]; echo $?)" "no run dir, socket, RAM file or temp file left"
rm -rf "$ROOT" "$SHM"

# Cages the tests made (kvmon-t*) beneath this cgroup, in every hierarchy.
cgleft=""
while IFS=: read -r _ ctl path; do
	case "$ctl" in
	"") d=/sys/fs/cgroup/unified$path; [ -d /sys/fs/cgroup/unified ] || d=/sys/fs/cgroup$path;;
	name=*) d=/sys/fs/cgroup/${ctl#name=}$path;;
	*) d=/sys/fs/cgroup/$ctl$path;;
	esac
	for c in "$d"/kvmon-t*; do [ -d "$c" ] && cgleft="$cgleft $c"; done
done < /proc/self/cgroup
for c in $cgleft; do echo "# leftover cgroup: $c"; done
ok "$([ -z "$cgleft" ]; echo $?)" "no test cgroup (kvmon-t*) left"
for c in $cgleft; do
	for p in $(cat "$c/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	sleep 0.2; rmdir "$c" 2>/dev/null
done
# Network namespaces the tests made are named kvmon-t<pid>-...
netns=$(ip netns list 2>/dev/null | awk '$1 ~ /^kvmon-t/ {print $1}')
[ -n "$netns" ] && echo "$netns" | sed 's/^/# leftover netns: /'
ok "$([ -z "$netns" ]; echo $?)" "no network namespace kvmon-t* left"
for ns in $netns; do ip netns del "$ns" 2>/dev/null; done
echo "1..$n"
exit $((failed ? 1 : 0))
