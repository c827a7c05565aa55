#!/usr/bin/env bash
# Makes sure a WebGPU adapter exists for the webgpu tests. A machine with a GPU driver (Vulkan) has
# one already; elsewhere, on Debian 12 as root, installs Mesa >= 24 (lavapipe, a software Vulkan
# driver) from the distribution's backports suite — added by copying the machine's own Debian
# source entry with the suite changed, so that no package host is named here. bookworm's own Mesa
# 22.3 gives no adapter to Dawn.
# Usage: scripts/ensure-vulkan.sh   (after `pnpm install`; exits non-zero when no adapter results)
set -euo pipefail
cd "$(dirname "$0")/.."
probe() {
  node --input-type=module -e '
    import { probeWebgpu } from "./packages/kernels/dist/index.js";
    const p = await probeWebgpu();
    if ("reason" in p) { console.error("webgpu: " + p.reason); process.exit(1); }
    console.error("webgpu adapter: " + [p.vendor, p.architecture, p.description].join(" / "));
    process.exit(0);' 2>&1 | grep -v "artificially reduced"
  return "${PIPESTATUS[0]}"
}
if probe; then exit 0; fi
. /etc/os-release
if [[ "${ID:-}" != debian || "$(id -u)" != 0 ]]; then
  echo "ensure-vulkan: no WebGPU adapter, and this is not Debian as root: install a Vulkan driver (GPU driver, or Mesa >= 24 mesa-vulkan-drivers)" >&2
  exit 1
fi
suite="${VERSION_CODENAME}-backports"
target=/etc/apt/sources.list.d/genesis-backports.sources
if ! grep -rqs "^Suites:.*\b${suite}\b\|^deb .* ${suite} " /etc/apt/sources.list /etc/apt/sources.list.d/; then
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    # the stanza that serves the release itself (not -security), with its suite changed
    awk -v rel="$VERSION_CODENAME" -v s="$suite" 'BEGIN { RS = ""; ORS = "\n\n" }
      $0 ~ ("Suites:[^\n]*(^|[ ])" rel "([ \n]|$)") && $0 !~ /security/ {
        n = split($0, lines, "\n"); out = "";
        for (i = 1; i <= n; i++) { if (lines[i] ~ /^Suites:/) lines[i] = "Suites: " s; out = out lines[i] "\n" }
        printf "%s\n", out; exit }' /etc/apt/sources.list.d/debian.sources > "$target"
  else
    grep -E "^deb [^ ]+ ${VERSION_CODENAME} " /etc/apt/sources.list | head -1 |
      sed -E "s/ ${VERSION_CODENAME} / ${suite} /" > /etc/apt/sources.list.d/genesis-backports.list
  fi
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t "$suite" mesa-vulkan-drivers >/dev/null
probe
