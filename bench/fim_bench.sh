#!/bin/bash
# kvmon fim against AIDE, side by side in one run (docs/fim.md).
# Generates FILES files totalling about MB megabytes, builds a raw ext4
# image of them (mke2fs -d), and times, page cache dropped before each:
#  (a) kvmon fim check --image (full: walk, stat, SHA-256 of every file),
#  (b) aide --check on `kvmon mount --image` of the same image,
#  (c) aide --check on the local tree (the in-VM analogue),
# same attributes (p+i+n+u+g+s+m+c+sha256) and JOBS hashing threads for
# both (kvmon --jobs, AIDE num_workers). Then the incremental check: the
# image (as qcow2) becomes the disk of a QEMU that never runs a CPU (-S),
# kvmon fim init puts the baseline marker (dirty bitmap) on it, 1% of the
# files get their first block rewritten through QEMU's block layer
# (HMP qemu-io, so the bitmap records the writes as it would a guest's),
# and a full and an incremental check of the running VM are timed.
# Usage: bench/fim_bench.sh [KVMON] (env: FILES=20000 MB=1024 JOBS=2 ROUNDS=1
# (AIDE part) VMROUNDS=3 (incremental part; medians);
# SKIP_AIDE=1: the incremental part only; KEEP=1: leave the work directory
# and the QEMU running, for profiling; under flock use `flock -o`, or the
# kept QEMU inherits the lock and holds it)
set -euo pipefail
KVMON=$(realpath "${1:-build/src/kvmon/kvmon}")
FILES=${FILES:-20000}; MB=${MB:-1024}; JOBS=${JOBS:-2}; ROUNDS=${ROUNDS:-1}
VMROUNDS=${VMROUNDS:-3}
W=$(mktemp -d /tmp/kvmon-bench-fim.XXXXXX)
MPID=; QPID=
cleanup() {
	[ -n "${KEEP:-}" ] && { echo "kept: $W (QEMU pid $QPID)"; return; }
	[ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
	mountpoint -q "$W/mnt" 2>/dev/null && fusermount3 -u -z "$W/mnt"
	[ -n "$QPID" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
command -v aide >/dev/null || { echo "aide not installed" >&2; exit 2; }
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$(dirname "$0")/gen_tree.py" "$W/tree" "$FILES" "$MB"
SIZE=$(du -sm "$W/tree" | cut -f1)
mke2fs -q -F -t ext4 -d "$W/tree" "$W/fs.img" $((SIZE * 13 / 10 + 64))M
mkdir "$W/mnt"
"$KVMON" mount --image "$W/fs.img" --format raw "$W/mnt" 2>/dev/null & MPID=$!
for _ in $(seq 100); do [ -d "$W/mnt/d000" ] && break; sleep 0.1; done

printf 'B = p+i+n+u+g+s+m+c+sha256\n/ B\n!/lost\\+found\n' > "$W/fim.conf"
FIM=("$KVMON" fim --config "$W/fim.conf" --key-file "$W/fim.key" --jobs "$JOBS")
aconf() {
	printf 'database_in=file:%s/%s.db\ndatabase_out=file:%s/%s.db.new\ngzip_dbout=no\nnum_workers=%s\nreport_url=stdout\nR = p+i+n+u+g+s+m+c+sha256\n%s R\n!%s/lost\\+found\n' \
		"$W" "$1" "$W" "$1" "$JOBS" "$2" "$2" > "$W/$1.conf"
	aide -c "$W/$1.conf" --init >/dev/null 2>&1 || true
	mv "$W/$1.db.new" "$W/$1.db"
}
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
if [ -z "${SKIP_AIDE:-}" ]; then
aconf local "$W/tree"; aconf mount "$W/mnt"
"${FIM[@]}" --db "$W/img.db" init --image "$W/fs.img" --format raw >/dev/null

A=(); B=(); C=()
for _ in $(seq "$ROUNDS"); do
	drop; A+=("$(secs "${FIM[@]}" --db "$W/img.db" check --image "$W/fs.img" --format raw)")
	drop; B+=("$(secs aide -c "$W/mount.conf" --check)")
	drop; C+=("$(secs aide -c "$W/local.conf" --check)")
done
ma=$(med "${A[@]}"); mb=$(med "${B[@]}"); mc=$(med "${C[@]}")
echo "tree: $(find "$W/tree" -type f | wc -l) files, ${SIZE} MB; $JOBS hashing threads"
echo "(a) kvmon fim check (full) on the image: ${ma} s (runs: ${A[*]})"
echo "(b) aide --check on kvmon mount:         ${mb} s (runs: ${B[*]})"
echo "(c) aide --check on the local tree:      ${mc} s (runs: ${C[*]})"
echo "ratio (a)/(c) kvmon fim / AIDE local: $(echo "scale=2; $ma / $mc" | bc) (target <= 0.8)"
echo "ratio (b)/(c) AIDE mount / AIDE local: $(echo "scale=2; $mb / $mc" | bc) (target <= 1.2)"
fi
kill "$MPID"; wait "$MPID" 2>/dev/null || true; MPID=

# ---- incremental: the image as the disk of a QEMU that keeps a dirty bitmap
CHANGE=$((FILES / 100))
find "$W/tree" -type f | sort | awk -v n="$FILES" -v k="$CHANGE" 'NR % int(n / k) == 0' |
	head -n "$CHANGE" | sed "s|^$W/tree||" > "$W/changed"
BS=$(dumpe2fs -h "$W/fs.img" 2>/dev/null | awk '/^Block size:/ {print $3}')
while read -r f; do
	echo "$(debugfs -R "bmap $f 0" "$W/fs.img" 2>/dev/null)"
done < "$W/changed" > "$W/blocks"
qemu-img convert -f raw -O qcow2 "$W/fs.img" "$W/fs.qcow2"
rm -f "$W/fs.img"
qemu-system-x86_64 -machine pc,accel=tcg -S -nodefaults -display none -m 64 \
	-drive file="$W/fs.qcow2",format=qcow2,if=none,id=drv0,node-name=disk0 \
	-qmp unix:"$W/qmp.sock",server=on,wait=off >/dev/null 2>&1 & QPID=$!
for _ in $(seq 100); do [ -S "$W/qmp.sock" ] && break; sleep 0.1; done
VMFIM=("${FIM[@]}" --qmp "$W/qmp.sock" --db "$W/vm.db")
TMPDIR="$W" "${VMFIM[@]}" init >/dev/null
python3 - "$W/qmp.sock" "$W/blocks" "$BS" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
def cmd(c, **a):
    f.write(json.dumps({"execute": c, "arguments": a} if a else {"execute": c}) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            if "error" in r: sys.exit("QMP: %s" % r)
            return r["return"]
json.loads(f.readline()); cmd("qmp_capabilities")
bs = int(sys.argv[3])
for b in open(sys.argv[2]):
    out = cmd("human-monitor-command", **{"command-line":
              'qemu-io drv0 "write -P 0x5a %d %d"' % (int(b) * bs, bs)})
    if "rror" in out or "failed" in out: sys.exit("qemu-io: %s" % out)
PY
F=(); I=()
for _ in $(seq "$VMROUNDS"); do
	drop; F+=("$(secs env TMPDIR="$W" "${VMFIM[@]}" check)")
	drop; t0=$(date +%s.%N)
	TMPDIR="$W" "${VMFIM[@]}" check --incremental > "$W/incr.out" 2> "$W/incr.err" || true
	t1=$(date +%s.%N); I+=("$(echo "$t1 - $t0" | bc)")
done
full=$(med "${F[@]}"); incr=$(med "${I[@]}")
TMPDIR="$W" "${VMFIM[@]}" check --json > "$W/full.json" 2>/dev/null || true
echo "incremental: $CHANGE files (1%) rewritten through QEMU's block layer"
echo "full check of the running VM:        ${full} s (runs: ${F[*]}; $(python3 -c "import json; d=json.load(open('$W/full.json')); print(d['changed'], 'changed,', d['paths'], 'paths')"))"
echo "incremental check of the running VM: ${incr} s (runs: ${I[*]}; $(tail -n1 "$W/incr.out"))"
sed 's/^/  /' "$W/incr.err"
echo "ratio incremental/full: $(echo "scale=3; $incr / $full" | bc) (target <= 0.05)"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
