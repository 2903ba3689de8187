#!/bin/sh
# Turns a Debian root file system into a waltham-bridge transmitter board: weston, Node 20,
# the package, the two systemd services and the merged /etc/walt/image.spec. The one
# provisioning script: the WalT image recipes (rpi64/, pc-x86-64/) run it at image build
# time, and the virtual boards of e2e/boards/ run it too, so that what the tests boot is
# what boards boot.
#
#   provision.sh CONTEXT [--root DIR] [--no-apt] [--no-package]
#
# CONTEXT is a directory made by stage.sh (or this directory, with --no-package): it holds
# rootfs/, image.spec.json and, unless --no-package, waltham-bridge.tar.gz (the built
# package with its production dependencies for the target) and `node` (Node 20 for the
# target) when the system has no Node 20.
# --root DIR installs into DIR instead of / (no apt there: it is the caller's business).
set -eu
ctx=""
root=""
apt=1
package=1
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="$2"; shift 2 ;;
    --no-apt) apt=0; shift ;;
    --no-package) package=0; shift ;;
    -*) echo "provision.sh: unknown option $1" >&2; exit 2 ;;
    *) ctx="$1"; shift ;;
  esac
done
[ -n "$ctx" ] && [ -d "$ctx/rootfs" ] || { echo "usage: provision.sh CONTEXT [--root DIR] [--no-apt] [--no-package]" >&2; exit 2; }
[ -n "$root" ] && [ "$root" != / ] && apt=0
say() { echo "provision: $*"; }

# 1. Debian packages: the compositor (its demo clients come with it), seat management for DRM.
if [ "$apt" = 1 ]; then
  say "installing weston"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends weston seatd ca-certificates libstdc++6 procps
  apt-get clean
  rm -rf /var/lib/apt/lists/*
fi

# 2. Node 20: the one in the context, unless the system has Node 20 or newer.
node_major() { "$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }
if [ -x "$ctx/node" ]; then
  say "installing Node $("$ctx/node" --version 2>/dev/null || echo '(for another architecture)')"
  install -D -m 0755 "$ctx/node" "$root/usr/local/bin/node"
elif [ "$package" = 1 ] && [ "$(node_major "$(command -v node || echo node)")" -lt 20 ]; then
  echo "provision.sh: Node 20 is needed: put its binary at $ctx/node (stage.sh does)" >&2
  exit 1
fi

# 3. The package, with its production dependencies, and the commands.
if [ "$package" = 1 ]; then
  say "installing waltham-bridge"
  rm -rf "$root/opt/waltham-bridge"
  install -d "$root/opt/waltham-bridge" "$root/usr/local/bin"
  tar -xzf "$ctx/waltham-bridge.tar.gz" -C "$root/opt/waltham-bridge"
  for cmd in transmitter receiver; do
    chmod 0755 "$root/opt/waltham-bridge/dist/$cmd/main.js"
    ln -sf "/opt/waltham-bridge/dist/$cmd/main.js" "$root/usr/local/bin/waltham-$cmd"
  done
fi

# 4. Configuration, start scripts and services.
say "installing the services"
cp -R "$ctx/rootfs/." "$root/"
chmod 0755 "$root/usr/local/lib/waltham/weston-start" "$root/usr/local/lib/waltham/transmitter-start"
install -d "$root/etc/waltham/nodes" "$root/etc/systemd/system/multi-user.target.wants"
for unit in waltham-weston.service waltham-transmitter.service; do
  ln -sf "/etc/systemd/system/$unit" "$root/etc/systemd/system/multi-user.target.wants/$unit"
done

# 5. /etc/walt/image.spec: ours merged into the base image's (templates and features kept).
say "merging /etc/walt/image.spec"
merge_node="$root/usr/local/bin/node"
[ -x "$merge_node" ] && "$merge_node" -e 0 2>/dev/null || merge_node="$(command -v node || true)"
if [ -z "$merge_node" ]; then
  # Only with --no-package (the virtual boards' cached root file system): the run that
  # installs the package and Node merges it.
  say "no node yet: /etc/walt/image.spec is merged when the package is installed"
  exit 0
fi
install -d "$root/etc/walt"
"$merge_node" -e '
  const fs = require("fs");
  const [target, ours] = process.argv.slice(1);
  let base = {};
  if (fs.existsSync(target)) base = JSON.parse(fs.readFileSync(target, "utf8"));
  const add = JSON.parse(fs.readFileSync(ours, "utf8"));
  const merged = { ...base, ...add };
  merged.templates = [...new Set([...(base.templates || []), ...(add.templates || [])])];
  if (base.features || add.features) merged.features = { ...(add.features || {}), ...(base.features || {}) };
  fs.writeFileSync(target, JSON.stringify(merged, null, 4) + "\n");
' "$root/etc/walt/image.spec" "$ctx/image.spec.json"
say "done"
