#!/usr/bin/env bash
# Debian packages the build, the tests and the demo need. Idempotent: only
# installs what is missing.
#
#   bash scripts/install-deps.sh           # everything npm test and the demo use
#   bash scripts/install-deps.sh --arm64   # and what the arm64 qemu board needs
#                                          # (it runs with WALTHAM_BOARDS_ARM64=1)
#
# npm test also builds the native shim's tests for aarch64 (a Raspberry Pi's
# architecture, with its own SIMD paths) and runs them under qemu-user: the
# cross tools are here, and the Rust target is added when rustup is there.
set -euo pipefail
PKGS=(
  weston wayland-utils libwayland-dev libwayland-bin wayland-protocols
  sway grim wtype foot xvfb xdotool x11-utils imagemagick
  nftables iproute2 gcc make pkg-config waypipe
  gtk-3-examples qtbase5-examples qtwayland5 fonts-dejavu-core xkb-data
  chromium qemu-system-x86 qemu-utils debootstrap
  firefox-esr
  openssl
  wl-clipboard
  kwin-wayland dbus
  python3-gi gir1.2-gtk-4.0
  qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross
)
if [ "${1:-}" = "--arm64" ]; then
  PKGS+=(qemu-system-arm)
fi
# The aarch64 tests' Rust target: without it they are skipped with the reason printed.
if command -v rustup >/dev/null && ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  timeout 600 rustup target add aarch64-unknown-linux-gnu || echo "install-deps: could not add the Rust target aarch64-unknown-linux-gnu" >&2
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
