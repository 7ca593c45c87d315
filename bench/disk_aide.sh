#!/bin/bash
# AIDE through `kvmon mount` vs AIDE on a local copy of the same tree.
# Generates FILES files totalling about MB megabytes, builds a raw ext4
# image from them (mke2fs -d), mounts it with `kvmon mount --image`, and
# times `aide --init` (p+i+n+u+g+s+m+c+sha256) on the local tree and on
# the mount, alternating, ROUNDS times; prints medians and the ratio.
# Usage: bench/disk_aide.sh [KVMON] (env: FILES=20000 MB=1024 ROUNDS=3)
set -euo pipefail
KVMON=${1:-build/src/kvmon/kvmon}
FILES=${FILES:-20000}; MB=${MB:-1024}; ROUNDS=${ROUNDS:-3}
W=$(mktemp -d /tmp/kvmon-bench-disk.XXXXXX)
MPID=
cleanup() {
	[ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
	mountpoint -q "$W/mnt" 2>/dev/null && fusermount3 -u -z "$W/mnt"
	rm -rf "$W"
}
trap cleanup EXIT
command -v aide >/dev/null || { echo "aide not installed" >&2; exit 2; }
python3 "$(dirname "$0")/gen_tree.py" "$W/tree" "$FILES" "$MB"
SIZE=$(du -sm "$W/tree" | cut -f1)
mke2fs -q -F -t ext4 -d "$W/tree" "$W/fs.img" $((SIZE * 13 / 10 + 64))M
mkdir "$W/mnt"
"$KVMON" mount --image "$W/fs.img" --format raw "$W/mnt" 2>/dev/null & MPID=$!
for _ in $(seq 100); do [ -d "$W/mnt/d000" ] && break; sleep 0.1; done
conf() { printf 'database_out=file:%s/%s.db\ngzip_dbout=no\nR = p+i+n+u+g+s+m+c+sha256\n%s R\n' "$W" "$1" "$2" > "$W/$1.conf"; }
conf local "$W/tree"; conf mount "$W/mnt"
run() { local t0 t1; t0=$(date +%s.%N); aide -c "$W/$1.conf" --init >/dev/null 2>&1 || true; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
L=(); M=()
for _ in $(seq "$ROUNDS"); do
	sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
	L+=("$(run local)"); M+=("$(run mount)")
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ml=$(med "${L[@]}"); mm=$(med "${M[@]}")
echo "tree: $(find "$W/tree" -type f | wc -l) files, ${SIZE} MB"
echo "aide --init local tree: ${ml} s (runs: ${L[*]})"
echo "aide --init on kvmon mount: ${mm} s (runs: ${M[*]})"
echo "ratio mount/local: $(echo "scale=2; $mm / $ml" | bc)"
