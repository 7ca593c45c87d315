#!/bin/bash
# Install every build and test dependency of KVMonitor from Debian 12
# packages. Idempotent: does nothing when all are present.
set -euo pipefail

PACKAGES=(
	# build
	build-essential clang meson ninja-build pkg-config
	libjson-c-dev libssl-dev
	# sanitizers and fuzzing (clang runtime for libFuzzer/ASan)
	libclang-rt-14-dev
	# running and monitoring VMs
	qemu-system-x86 qemu-utils
	# building the bundled guest (guest/build.sh)
	apt-utils busybox-static cpio e2fsprogs kmod xz-utils zstd gzip ca-certificates
	# tests
	jq socat
	# later mechanisms (disk, network, BTF): listed once, here
	libbpf-dev libelf-dev zlib1g-dev libext2fs-dev libnbd-dev nbd-server
	libfuse3-dev fuse3 fuse2fs libpcap-dev
	# cages: experiment plots (bench/cage_experiments.sh)
	gnuplot-nox bc
	# network mirroring: rule matcher, real pcap consumers
	libhyperscan-dev libpcre2-dev tcpdump tshark
	# disk: unmodified IDS on kvmon mount, NBD and partition tools for tests
	aide libnbd-bin gdisk fdisk
	# disk: regenerating the LVM2 fixture (tests/data/make-lvm-fixture.sh)
	lvm2
)

missing=()
for p in "${PACKAGES[@]}"; do
	# No "| grep -q": under pipefail an early grep exit fails the pipe.
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
# guest/build.sh resolves package versions from apt's lists: they must exist.
policy=$(apt-cache policy linux-image-amd64 2>/dev/null || true)
if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
	echo "deps: apt lists empty, running apt-get update" >&2
	$SUDO apt-get update -qq
	fresh=1
fi
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#PACKAGES[@]} packages present" >&2
	exit 0
fi
echo "deps: installing ${missing[*]}" >&2
[ -n "${fresh:-}" ] || $SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
