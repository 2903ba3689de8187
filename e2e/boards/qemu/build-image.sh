#!/bin/sh
# Builds (once) the root file system of the qemu virtual boards: Debian bookworm from the
# configured mirror (debootstrap), then walt/image/provision.sh run inside it (apt included,
# the package left out: each run installs its own build, see README.md), a kernel and a
# small initrd. Cached outside the repository, keyed by a hash of the provisioning script,
# the image's rootfs/ and this script, so repeated runs do not rebuild it.
#
#   build-image.sh [x86_64|arm64]            prints the cache directory (kernel, initrd, rootfs/) when ready
#   build-image.sh --cached [x86_64|arm64]   prints it and exits 0 if it is built already; exits 1 (building nothing) if not
#
# arm64 (the Raspberry Pi's architecture) is built on this x86-64 host through qemu-user
# (binfmt_misc), as WalT builds its rpi images.
set -eu
cached_only=no
if [ "${1:-}" = --cached ]; then cached_only=yes; shift; fi
arch="${1:-x86_64}"
case "$arch" in
  x86_64) debarch=amd64; kernel=linux-image-amd64 ;;
  arm64) debarch=arm64; kernel=linux-image-arm64 ;;
  *) echo "usage: build-image.sh [x86_64|arm64]" >&2; exit 2 ;;
esac
here="$(cd "$(dirname "$0")" && pwd)"
image="$(cd "$here/../../../walt/image" && pwd)"
cache_root="${WALTHAM_BOARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/waltham-bridge/boards}"
key="$( (cat "$image/provision.sh" "$here/build-image.sh" "$image/image.spec.json"; cd "$image" && find rootfs -type f | sort | xargs cat) | sha256sum | cut -c1-16)"
dir="$cache_root/$arch-$key"
if [ -f "$dir/ready" ]; then echo "$dir"; exit 0; fi
if [ "$cached_only" = yes ]; then echo "$dir: not built yet" >&2; exit 1; fi

say() { echo "build-image: $*" >&2; }
if [ "$arch" = arm64 ]; then
  # Run arm64 programs in the chroot through qemu-user: binfmt_misc with the F flag.
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [ -f "$conf" ] || { echo "build-image.sh: qemu-user-static is not installed" >&2; exit 1; }
    cat "$conf" > /proc/sys/fs/binfmt_misc/register
  fi
fi
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
root="$dir.tmp/rootfs"
mirror="$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)"
[ -n "$mirror" ] || mirror="$(sed -n 's/^deb \(\[[^]]*\] \)\?\([^ ]*\) .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -1)"
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
say "debootstrap bookworm from $mirror (a few minutes)"
debootstrap --arch="$debarch" --variant=minbase --include=systemd-sysv,udev,kmod,zstd,iproute2,ca-certificates,$kernel,procps,initramfs-tools \
  bookworm "$root" "$mirror" >&2

say "provision.sh inside the root file system"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp -R "$image" "$root/tmp/waltham-image"
mount -t proc proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true' EXIT
chroot "$root" sh /tmp/waltham-image/provision.sh /tmp/waltham-image --no-package >&2
rm -rf "$root/tmp/waltham-image"

say "kernel, initrd, boot settings"
printf 'virtio_pci\nvirtio_mmio\nvirtio_blk\nvirtio_net\next4\n' >> "$root/etc/initramfs-tools/modules"
sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
chroot "$root" update-initramfs -u -k all >&2
umount "$root/proc"
trap - EXIT
cp "$(ls "$root"/boot/vmlinuz-* | head -1)" "$dir.tmp/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | head -1)" "$dir.tmp/initrd.img"
chroot "$root" systemctl mask serial-getty@ttyS0.service serial-getty@ttyAMA0.service getty@tty1.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer >&2 || true
echo "vboard" > "$root/etc/hostname"
# The board's network: the address given on the kernel command line (vboard.ip=ADDR/LEN),
# set before the transmitter starts. Only for virtual boards; WalT configures real ones.
cat > "$root/etc/systemd/system/vboard-net.service" <<'UNIT'
[Unit]
Description=virtual board network from the kernel command line
Before=waltham-transmitter.service
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'for w in $$(cat /proc/cmdline); do case $$w in vboard.ip=*) ip addr add $${w#vboard.ip=} dev eth0;; esac; done; ip link set eth0 up; ip link set lo up'
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/vboard-net.service "$root/etc/systemd/system/multi-user.target.wants/vboard-net.service"
# The transmitter's log lines on the console, so the harness sees them.
mkdir -p "$root/etc/systemd/system/waltham-transmitter.service.d"
printf '[Service]\nStandardOutput=journal+console\nStandardError=journal+console\n' > "$root/etc/systemd/system/waltham-transmitter.service.d/console.conf"
rm -f "$root/etc/resolv.conf"
rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*
mv "$dir.tmp" "$dir"
touch "$dir/ready"
say "ready: $dir"
echo "$dir"
