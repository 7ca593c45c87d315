#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Regenerates tests/data/disk-4k.tar.xz: two 16 MiB disks partitioned by
# the real tools on a loop device with 4096-byte logical sectors (root):
#   gpt-4k.img  sgdisk: p1 LBA 256..2303 "one", p2 LBA 3072..3583 (ext4
#               by mke2fs -d, holding /hello), LBAs of 4096 bytes;
#   mbr-4k.img  sfdisk: p1 LBA 256 size 1024, p2 LBA 2048 size 512.
set -eu
out=${1:-$(dirname "$0")/disk-4k.tar.xz}
work=$(mktemp -d)
loop=
cleanup() {
	[ -z "$loop" ] || losetup -d "$loop"
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

truncate -s 16M "$work/gpt-4k.img" "$work/mbr-4k.img"
loop=$(losetup -f --show -b 4096 "$work/gpt-4k.img")
sgdisk -n 1:256:2303 -c 1:one -n 2:3072:3583 -t 2:8300 -c 2:two "$loop" >/dev/null
losetup -d "$loop"
loop=
mkdir "$work/src"
echo "4k sectors" >"$work/src/hello"
mke2fs -q -F -t ext4 -b 4096 -d "$work/src" "$work/p2.fs" 2M >/dev/null 2>&1
dd if="$work/p2.fs" of="$work/gpt-4k.img" bs=4096 seek=3072 conv=notrunc status=none

loop=$(losetup -f --show -b 4096 "$work/mbr-4k.img")
printf 'label: dos\nstart=256, size=1024, type=83\nstart=2048, size=512, type=83\n' |
	sfdisk -q "$loop" >/dev/null 2>&1
losetup -d "$loop"
loop=
tar -C "$work" -cf - gpt-4k.img mbr-4k.img | xz -9 >"$out"
echo "$out"
