#!/bin/sh
# Assembles the build context of a WalT image recipe: the model's Dockerfile, provision.sh,
# rootfs/, image.spec.json, the built package with its production dependencies for the
# target architecture (waltham-bridge.tar.gz) and Node 20 for it (node).
#
#   walt/image/stage.sh rpi64|pc-x86-64 OUTDIR
#   walt image build --from-dir OUTDIR USER/waltham-tx-<arch>:TAG
#
# Run `npm run build` first. rpi64 needs the native addon cross-built for
# aarch64-unknown-linux-gnu (napi build --target aarch64-unknown-linux-gnu, which needs
# `rustup target add aarch64-unknown-linux-gnu` and Debian's gcc-aarch64-linux-gnu).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
model="${1:-}"
out="${2:-}"
case "$model" in
  rpi64) arch=arm64; triple=linux-arm64-gnu ;;
  pc-x86-64) arch=x64; triple=linux-x64-gnu ;;
  *) echo "usage: stage.sh rpi64|pc-x86-64 OUTDIR" >&2; exit 2 ;;
esac
[ -n "$out" ] || { echo "usage: stage.sh rpi64|pc-x86-64 OUTDIR" >&2; exit 2; }
addon="$repo/native/wayland-shim/index.$triple.node"
[ -f "$repo/dist/transmitter/main.js" ] || { echo "stage.sh: no dist/: run npm run build first" >&2; exit 1; }
if [ ! -f "$addon" ] && [ "$arch" = arm64 ] && command -v aarch64-linux-gnu-gcc >/dev/null; then
  echo "stage.sh: cross-building the native addon for aarch64" >&2
  (cd "$repo" && CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc npx napi build --platform --release \
    --target aarch64-unknown-linux-gnu --manifest-path native/wayland-shim/Cargo.toml --output-dir native/wayland-shim \
    --no-js --dts "$(mktemp -u /tmp/wayland-shim-XXXXXX.d.ts)" >&2)
fi
[ -f "$addon" ] || { echo "stage.sh: no $addon: build the native addon for $arch first" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/pkg/native/wayland-shim"
cp "$here/$model/Dockerfile" "$here/provision.sh" "$here/image.spec.json" "$out/"
cp -R "$here/rootfs" "$out/rootfs"

# The package: what runs (dist without the tests), the native addon, production dependencies.
cp "$repo/package.json" "$repo/package-lock.json" "$out/pkg/"
(cd "$repo" && tar -cf - --exclude='*.test.js' --exclude='*.map' dist/shared dist/transmitter dist/receiver) | tar -xf - -C "$out/pkg"
cp "$repo/native/wayland-shim/index.cjs" "$addon" "$out/pkg/native/wayland-shim/"
(cd "$out/pkg" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --cpu="$arch" --os=linux --loglevel=error)
tar -czf "$out/waltham-bridge.tar.gz" -C "$out/pkg" .
rm -rf "$out/pkg"

# Node 20 for the target: this one when it is the same architecture, else the npm package
# node-linux-<arch> (the official binary).
if [ "$(node -p process.arch)" = "$arch" ] && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]; then
  cp "$(command -v node)" "$out/node"
else
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-$arch@20" >/dev/null && tar -xzf node-linux-*.tgz)
  cp "$tmp/package/bin/node" "$out/node"
  rm -rf "$tmp"
fi
echo "staged $model in $out"
