#!/usr/bin/env bash
# Build the KVMonitor test guest (kernel, initramfs, ext4 root disk) from
# Debian packages only.  Usage: guest/build.sh [OUTDIR]   (see guest/README.md)
set -euo pipefail

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$GUEST_DIR")
OUTDIR=${1:-$REPO_DIR/.cache/guest}

# Everything that ends up in an image gets this timestamp, so rebuilding the
# same inputs gives byte-identical outputs.  2024-01-01T00:00:00Z.
EPOCH=1704067200
# Fixed filesystem identity (mke2fs would otherwise pick random ones).
ROOT_UUID=6b766d6f-6e00-4000-8000-000000000001
HASH_SEED=6b766d6f-6e00-4000-8000-000000000002
ROOT_SIZE_MIB=256

# Kernel modules the guest needs; dependencies are resolved with modprobe.
GUEST_MODULES=(virtio_pci virtio_blk virtio_net virtio_balloon virtio_console
               ext4 jbd2 mbcache crc16 crc32c_generic)
# Arch-independent packages that make the root disk look like a real system
# (a few thousand real files, ~30 MiB).  busybox-static is added separately.
ROOTFS_PACKAGES=(base-files netbase media-types tzdata ncurses-base
                 ncurses-term perl-modules-5.36)

log() { echo "guest: $*" >&2; }
die() { echo "guest: ERROR: $*" >&2; exit 1; }

# Host dependencies: install what is missing (root only), so a fresh machine
# can run this without hand-installed tools.
need_tools() {
    local missing=() pkgs=() t
    declare -A pkg_of=([apt-get]=apt [apt-cache]=apt [dpkg-deb]=dpkg
        [depmod]=kmod [modprobe]=kmod [mkfs.ext4]=e2fsprogs [debugfs]=e2fsprogs [e2fsck]=e2fsprogs
        [qemu-img]=qemu-utils [cpio]=cpio [gzip]=gzip [sha256sum]=coreutils
        [flock]=util-linux)
    for t in "${!pkg_of[@]}"; do
        command -v "$t" >/dev/null 2>&1 || { missing+=("$t"); pkgs+=("${pkg_of[$t]}"); }
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing host tools: ${missing[*]} (apt-get install ${pkgs[*]})"
    log "installing host tools: ${pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >&2
}
# depmod/modprobe/mkfs live in /sbin, which is not always on a user's PATH.
export PATH=$PATH:/usr/sbin:/sbin
need_tools

# ---------------------------------------------------------------------------
# Resolve exact package versions (offline: apt's local lists only).  apt-cache
# is slow to start (~0.7 s), so it is called twice in total.
KPKG=$(apt-cache depends linux-image-amd64 |
       sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
[ -n "$KPKG" ] || die "cannot resolve the kernel package behind linux-image-amd64 (run apt-get update?)"

declare -A VER
ALL_PACKAGES=("$KPKG" busybox-static "${ROOTFS_PACKAGES[@]}")
while read -r p v; do VER[$p]=$v; done < <(
    apt-cache policy linux-image-amd64 "${ALL_PACKAGES[@]}" |
        awk '/^[^ ].*:$/ { p = substr($0, 1, length($0) - 1) } /^  Candidate: / { print p, $2 }')
for p in linux-image-amd64 "${ALL_PACKAGES[@]}"; do
    v=${VER[$p]:-}
    [ -n "$v" ] && [ "$v" != "(none)" ] || die "no candidate version for $p (run apt-get update?)"
done
meta_ver=${VER[linux-image-amd64]}

# Inputs hash: every build input file under guest/ (not the docs) plus the
# resolved package versions.
inputs_hash() {
    (
        cd "$GUEST_DIR"
        find . -type f ! -name README.md ! -name '*~' -print0 | LC_ALL=C sort -z |
            while IFS= read -r -d '' f; do
                printf '%s %s %s\n' "$f" "$(stat -c %a "$f" | cut -c1)" "$(sha256sum < "$f" | cut -d' ' -f1)"
            done
        printf 'linux-image-amd64=%s\n' "$meta_ver"
        for p in "${ALL_PACKAGES[@]}"; do printf '%s=%s\n' "$p" "${VER[$p]}"; done
    ) | sha256sum | cut -d' ' -f1
}
HASH=$(inputs_hash)

up_to_date() {
    local f
    [ -f "$OUTDIR/manifest.json" ] || return 1
    grep -q "\"inputs_hash\": \"sha256:$HASH\"" "$OUTDIR/manifest.json" || return 1
    for f in vmlinuz initrd.img rootfs.qcow2; do [ -s "$OUTDIR/$f" ] || return 1; done
}

if up_to_date; then log "up to date ($OUTDIR)"; exit 0; fi

# ---------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "building needs root (device nodes, root-owned files in the images)"
mkdir -p "$OUTDIR/debs"
OUTDIR=$(cd "$OUTDIR" && pwd)
# Serialise concurrent builds (e.g. parallel test runs) on the same OUTDIR.
exec 9>"$OUTDIR/.lock"
flock 9
if up_to_date; then log "up to date ($OUTDIR)"; exit 0; fi
rm -rf "$OUTDIR"/.build.*
log "building into $OUTDIR (inputs sha256:$HASH)"

# --- fetch .debs (cached in OUTDIR/debs, verified against apt's SHA256) ----
declare -A DEB
fetch_deb() {
    local pkg=$1 ver=$2 info arch sha file
    info=$(apt-cache show "$pkg=$ver" | awk 'BEGIN{RS=""} NR==1')
    arch=$(sed -n 's/^Architecture: //p' <<<"$info")
    sha=$(sed -n 's/^SHA256: //p' <<<"$info")
    file="$OUTDIR/debs/${pkg}_${ver//:/%3a}_${arch}.deb"
    if [ ! -f "$file" ] || [ "$(sha256sum < "$file" | cut -d' ' -f1)" != "$sha" ]; then
        rm -f "$file"
        log "downloading $pkg $ver"
        (cd "$OUTDIR/debs" && apt-get -q -o APT::Sandbox::User=root download "$pkg=$ver" >&2) ||
            die "apt-get download $pkg=$ver failed"
        [ -f "$file" ] || die "expected $file after download"
        [ "$(sha256sum < "$file" | cut -d' ' -f1)" = "$sha" ] || die "checksum mismatch for $file"
    fi
    DEB[$pkg]=$file
}
for p in "${ALL_PACKAGES[@]}"; do fetch_deb "$p" "${VER[$p]}"; done
# Drop .debs of superseded versions so the cache doesn't grow forever.
for f in "$OUTDIR"/debs/*.deb; do
    keep=0
    for p in "${ALL_PACKAGES[@]}"; do [ "$f" = "${DEB[$p]}" ] && keep=1; done
    [ $keep = 1 ] || { log "removing stale $(basename "$f")"; rm -f "$f"; }
done

BUILD=$(mktemp -d "$OUTDIR/.build.XXXXXX")
trap 'rm -rf "$BUILD"' EXIT
mkdir -p "$BUILD/out"

# --- kernel + modules -------------------------------------------------------
log "extracting $KPKG"
dpkg-deb -x "${DEB[$KPKG]}" "$BUILD/kernel"
KBASE=$BUILD/kernel
[ -d "$KBASE/lib/modules" ] || KBASE=$BUILD/kernel/usr   # usr-merged kernels
KVER=$(ls "$KBASE/lib/modules")
[ "$(wc -w <<<"$KVER")" = 1 ] || die "expected one module dir in $KPKG, got: $KVER"
cp "$BUILD/kernel/boot/vmlinuz-$KVER" "$BUILD/out/vmlinuz"
# The initramfs insmods plain .ko files; newer Debian kernels compress them.
find "$KBASE/lib/modules/$KVER" -name '*.ko.xz' -exec xz -d {} +
find "$KBASE/lib/modules/$KVER" -name '*.ko.zst' -exec zstd -q --rm -d {} +
depmod -b "$KBASE" "$KVER"

# Dependency order comes from modprobe itself; an empty config dir keeps the
# host's /etc/modprobe.d out of it.
mkdir -p "$BUILD/empty"
declare -A SEEN_MOD
MODLIST=()
for m in "${GUEST_MODULES[@]}"; do
    while read -r verb path _; do
        case $verb in
            insmod)
                rel=${path#"$KBASE"}
                [ -z "${SEEN_MOD[$rel]:-}" ] || continue
                SEEN_MOD[$rel]=1
                MODLIST+=("$rel") ;;
            builtin) ;;
            *) die "unexpected modprobe output for $m: $verb $path" ;;
        esac
    done < <(modprobe -d "$KBASE" -C "$BUILD/empty" -S "$KVER" --show-depends "$m" ||
             die "modprobe cannot resolve $m")
done

# --- initramfs ---------------------------------------------------------------
log "building initramfs ($KVER, ${#MODLIST[@]} modules)"
dpkg-deb -x "${DEB[busybox-static]}" "$BUILD/busybox"
BB=$BUILD/busybox/bin/busybox
[ -x "$BB" ] || die "no bin/busybox in busybox-static"
IRD=$BUILD/initramfs
mkdir -p "$IRD"/{bin,dev,proc,sys,run,tmp,newroot,lib/modules/"$KVER"}
cp "$BB" "$IRD/bin/busybox"
for a in $("$BB" --list); do
    [ "$a" = busybox ] || ln -s busybox "$IRD/bin/$a"
done
ln -s bin "$IRD/sbin"
# The kernel opens /dev/console before running /init.
mknod -m 600 "$IRD/dev/console" c 5 1
mknod -m 666 "$IRD/dev/null" c 1 3
{
    for rel in "${MODLIST[@]}"; do
        mkdir -p "$IRD$(dirname "$rel")"
        cp "$KBASE$rel" "$IRD$rel"
        # CPU-specific accelerators (e.g. crc32c-intel without SSE4.2 under
        # TCG) may legitimately refuse to load: generic fallbacks follow.
        case $rel in */kernel/arch/*) echo "try_mod $rel" ;; *) echo "load_mod $rel" ;; esac
    done
} > "$BUILD/modlines"
sed -e "/@MODULES@/{r $BUILD/modlines" -e 'd}' -e "s/@KVER@/$KVER/g" \
    "$GUEST_DIR/initramfs/init" > "$IRD/init"
chmod 755 "$IRD/init"

# Reproducible archive: fixed times, sorted names, root owner, no gzip name/time.
mkcpio() {  # dir -> gzip'd newc cpio on stdout
    find "$1" -exec touch -h -d "@$EPOCH" {} +
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
        cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9 -n
}
mkcpio "$IRD" > "$BUILD/out/initrd.img"

# --- root filesystem -----------------------------------------------------------
log "assembling root filesystem"
ROOT=$BUILD/rootfs
mkdir -p "$ROOT"
for p in busybox-static "${ROOTFS_PACKAGES[@]}"; do dpkg-deb -x "${DEB[$p]}" "$ROOT"; done
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,root,home/kvmon,mnt} \
         "$ROOT"/var/{log,tmp,www,spool/cron/crontabs,lib,cache}
# Applet symlinks where busybox thinks they belong; our /sbin/init wins.
while read -r a; do
    case $a in linuxrc|sbin/init|bin/busybox) continue ;; esac
    [ -e "$ROOT/$a" ] || [ -L "$ROOT/$a" ] || ln -s /bin/busybox "$ROOT/$a"
done < <("$BB" --list-full)
cp -R "$GUEST_DIR/rootfs/." "$ROOT/"
chmod 755 "$ROOT/sbin/init" "$ROOT/usr/sbin/kvmon-ctl-agent" "$ROOT/usr/sbin/kvmon-tick"
chmod 600 "$ROOT/etc/shadow" "$ROOT/var/spool/cron/crontabs/root"
chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"
chmod 700 "$ROOT/root"
ln -sfn /proc/mounts "$ROOT/etc/mtab"
ln -sfn /usr/share/zoneinfo/Etc/UTC "$ROOT/etc/localtime"
ln -sfn /var/spool/cron/crontabs/root "$ROOT/etc/crontab"
chown -R -h 0:0 "$ROOT"
# Build-time metadata for people poking around in the guest.
printf 'KVMonitor test guest\nkernel %s (%s %s)\ninputs sha256:%s\n' \
    "$KVER" "$KPKG" "${VER[$KPKG]}" "$HASH" > "$ROOT/etc/kvmon-guest-release"
find "$ROOT" -exec touch -h -d "@$EPOCH" {} +
NFILES=$(find "$ROOT" -type f | wc -l)
[ "$NFILES" -ge 3000 ] || die "root filesystem has only $NFILES regular files (want >= 3000)"

log "creating ext4 image ($NFILES regular files)"
# Pin mke2fs's settings instead of using the host's /etc/mke2fs.conf.
cat > "$BUILD/mke2fs.conf" <<'EOF'
[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	default_mntopts = acl,user_xattr
	enable_periodic_fsck = 0
	blocksize = 4096
	inode_size = 256
	inode_ratio = 16384
[fs_types]
	ext4 = {
		features = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
	}
EOF
RAW=$BUILD/rootfs.raw
truncate -s "${ROOT_SIZE_MIB}M" "$RAW"
export E2FSPROGS_FAKE_TIME=$EPOCH   # superblock times, crtime
MKE2FS_CONFIG=$BUILD/mke2fs.conf mkfs.ext4 -q -F -t ext4 -T default \
    -d "$ROOT" -L kvmon-root -U "$ROOT_UUID" \
    -E "root_owner=0:0,hash_seed=$HASH_SEED,lazy_itable_init=0,lazy_journal_init=0,nodiscard" \
    "$RAW" >&2
# mke2fs -d copies ctime/atime from the host inodes (ctime can't be set with
# touch), so pin them afterwards.
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort) | sed 's|^\.||' | {
    echo "sif / ctime @$EPOCH"; echo "sif / atime @$EPOCH"
    echo "sif /lost+found ctime @$EPOCH"; echo "sif /lost+found atime @$EPOCH"
    while IFS= read -r f; do
        case $f in *'"'*) die "unsupported file name: $f" ;; esac
        printf 'sif "%s" ctime @%s\nsif "%s" atime @%s\n' "$f" "$EPOCH" "$f" "$EPOCH"
    done
} > "$BUILD/debugfs.cmds"
debugfs -w -f "$BUILD/debugfs.cmds" "$RAW" > "$BUILD/debugfs.log" 2>&1 ||
    die "debugfs timestamp fixup failed (see log)"
if grep -v '^debugfs' "$BUILD/debugfs.log" | grep -vq '^sif '; then
    grep -v '^debugfs' "$BUILD/debugfs.log" | grep -v '^sif ' | head >&2
    die "debugfs reported errors"
fi
e2fsck -fn "$RAW" >/dev/null 2>&1 || die "e2fsck found problems in the new root image"
qemu-img convert -f raw -O qcow2 "$RAW" "$BUILD/out/rootfs.qcow2"
rm -f "$RAW"

# --- manifest ----------------------------------------------------------------
json_str() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
{
    echo "{"
    echo "  \"kernel_package\": $(json_str "$KPKG"),"
    echo "  \"kernel_version\": $(json_str "$KVER"),"
    echo "  \"kernel_package_version\": $(json_str "${VER[$KPKG]}"),"
    echo "  \"busybox_version\": $(json_str "${VER[busybox-static]}"),"
    echo "  \"packages\": {"
    n=0
    for p in "${ALL_PACKAGES[@]}"; do
        n=$((n + 1)); sep=,; [ $n -eq ${#ALL_PACKAGES[@]} ] && sep=
        echo "    $(json_str "$p"): $(json_str "${VER[$p]}")$sep"
    done
    echo "  },"
    echo "  \"modules\": ["
    n=0
    for rel in "${MODLIST[@]}"; do
        n=$((n + 1)); sep=,; [ $n -eq ${#MODLIST[@]} ] && sep=
        echo "    $(json_str "$(basename "$rel" .ko)")$sep"
    done
    echo "  ],"
    echo "  \"rootfs_uuid\": $(json_str "$ROOT_UUID"),"
    echo "  \"files\": $NFILES,"
    echo "  \"inputs_hash\": \"sha256:$HASH\""
    echo "}"
} > "$BUILD/out/manifest.json"

# --- publish: the manifest goes last, so a crash mid-way never looks valid ---
rm -f "$OUTDIR/manifest.json"
for f in vmlinuz initrd.img rootfs.qcow2 manifest.json; do
    mv -f "$BUILD/out/$f" "$OUTDIR/$f"
done
log "done: $OUTDIR ($KVER, $NFILES files)"
