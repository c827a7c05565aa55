#!/usr/bin/env node
// Peak memory and time of reading a 512×512×600 int16 CT into float32 (the memory target:
// at most ~2× the float32 size at peak), for .nii and .nii.gz. Each read runs in a fresh child
// process and reports its peak RSS (VmHWM). Prints one JSON line per case.
// Needs the built package (dist/); `pnpm bench` from the root builds first.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
const shape = (process.env.BENCH_SHAPE ?? "512,512,600").split(",").map(Number);

/** Peak resident set (KB) of this process: VmHWM from /proc (ru_maxrss is inherited across exec on Linux). */
function peakKB() {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]);
  } catch {}
  return process.resourceUsage().maxRSS;
}

if (process.argv[2] === "--read") {
  const { readVolume } = await import(dist);
  const base = peakKB();
  const t = performance.now();
  const v = await readVolume(process.argv[3], { dtype: "float32" });
  const seconds = (performance.now() - t) / 1000;
  const peak = peakKB();
  process.stdout.write(
    JSON.stringify({ seconds, baseRssKB: base, peakRssKB: peak, bytes: v.data.byteLength }),
  );
  process.exit(0);
}

const { encodeNifti, identity3 } = await import(dist);
const { gzipSync } = await import("node:zlib");
const { writeFileSync } = await import("node:fs");
const dir = mkdtempSync(join(tmpdir(), "vio-bench-"));
try {
  const [nx, ny, nz] = shape;
  const data = new Int16Array(nx * ny * nz);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) % 2000) - 1000;
  const bytes = encodeNifti({
    data,
    shape,
    channels: 1,
    spacing: [0.7, 0.7, 1],
    origin: [0, 0, 0],
    direction: identity3(),
    kind: "intensity",
    meta: {},
  });
  const nii = join(dir, "ct.nii");
  writeFileSync(nii, bytes);
  const gz = join(dir, "ct.nii.gz");
  writeFileSync(gz, gzipSync(bytes, { level: 1 }));
  const float32MB = (data.length * 4) / 2 ** 20;
  for (const [name, file] of [
    ["nii", nii],
    ["nii.gz", gz],
  ]) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--read", file], {
      encoding: "utf8",
    });
    if (r.status !== 0) {
      process.stderr.write(r.stderr);
      process.exit(1);
    }
    const m = JSON.parse(r.stdout);
    const peakMB = m.peakRssKB / 1024;
    const addedMB = (m.peakRssKB - m.baseRssKB) / 1024;
    process.stdout.write(
      `${JSON.stringify({
        bench: "volume-io/read-float32",
        format: name,
        shape,
        seconds: +m.seconds.toFixed(3),
        float32MB: +float32MB.toFixed(1),
        peakRssMB: +peakMB.toFixed(1),
        addedRssMB: +addedMB.toFixed(1),
        peakOverFloat32: +(peakMB / float32MB).toFixed(3),
      })}\n`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
