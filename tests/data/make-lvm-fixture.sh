#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Regenerates tests/data/lvm-disk.img.xz with the real lvm2 tools (root,
# a free loop device; no device-mapper needed: activation is off):
#   24 MiB disk, GPT, partition 1 (1 MiB..21 MiB, type 8e00) is an LVM2 PV
#   with a 60 KiB metadata area and 64 KiB data alignment;
#   VG "kvmvg", 1 MiB extents; LV "root" (6 MiB: extents 0-3 and 7-8, two
#   non-contiguous segments) and LV "data" (3 MiB: extents 4-6);
#   then tag changes until the current metadata copy wraps around the end
#   of the circular metadata area (many generations, one split in two).
# The LVs' extents are left zero: tests write their own file systems there.
set -eu
out=${1:-$(dirname "$0")/lvm-disk.img.xz}
work=$(mktemp -d)
loop=
cleanup() {
	[ -z "$loop" ] || losetup -d "$loop"
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

img=$work/disk.img
truncate -s 24M "$img"
sgdisk -n 1:2048:+20M -t 1:8e00 -c 1:lvm "$img" >/dev/null
loop=$(losetup -f --show -o $((2048 * 512)) --sizelimit $((20 << 20)) "$img")

mkdir "$work/etc"
cat >"$work/etc/lvm.conf" <<CONF
devices { filter = [ "a|^$loop\$|", "r|.*|" ] obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 }
global { activation = 0 }
backup { backup = 0 archive = 0 }
CONF
export LVM_SYSTEM_DIR="$work/etc" LVM_SUPPRESS_FD_WARNINGS=1
lvm() { command "$@" --nolocking -q >/dev/null 2>"$work/err" || {
	cat "$work/err" >&2; exit 1; }; }

lvm pvcreate --metadatasize 16k --dataalignment 64k "$loop"
lvm vgcreate -s 1M kvmvg "$loop"
lvm lvcreate -an -Zn -L 4M -n root kvmvg
lvm lvcreate -an -Zn -L 3M -n data kvmvg
lvm lvextend -L 6M kvmvg/root

# mda header at PV byte 4096: size at +32, raw_locn {offset, size} at +40.
u64() { od -An -t u8 -j "$1" -N 8 "$loop" | tr -d ' '; }
mda_size=$(u64 $((4096 + 32)))
i=0
while :; do
	i=$((i + 1))
	[ $i -le 200 ] || { echo "metadata never wrapped" >&2; exit 1; }
	lvm lvchange --addtag "gen$i" kvmvg/data
	lvm lvchange --deltag "gen$i" kvmvg/data
	off=$(u64 $((4096 + 40)))
	size=$(u64 $((4096 + 48)))
	[ $((off + size)) -le "$mda_size" ] || break
done
lvs --nolocking --segments -o lv_name,seg_start_pe,seg_pe_ranges kvmvg 2>/dev/null
losetup -d "$loop"
loop=
xz -9 -c "$img" >"$out"
echo "$out: $i tag rounds, metadata wrapped at $off+$size of $mda_size"
