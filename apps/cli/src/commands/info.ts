import {
  affineOf,
  collectOneVolume,
  orientationCode,
  readVolume,
  type Volume,
  volumeStats,
} from "@models-genesis/volume-io";
import type { Command } from "commander";
import { irregularSlicesOption, volumeReadOptions } from "../lib/read-options.js";

/** The facts `genesis info` reports about a volume (the `--json` object). */
export interface VolumeInfo {
  /** Spatial shape (x, y, z), plus the channel count as a 4th entry when > 1. */
  shape: number[];
  /** Voxel size in mm along (x, y, z). */
  spacing: number[];
  /** RAS+ position (mm) of the centre of voxel (0, 0, 0). */
  origin: number[];
  /** Voxel-to-world 4×4 affine, RAS+ mm, row-major. */
  affine: number[][];
  /** Orientation code (nibabel convention: the direction each voxel axis points towards), e.g. "LPS". */
  orientation: string;
  /** Voxel type on disk (e.g. "int16"; "int16 (big-endian)" when stored big-endian). */
  datatype: string;
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Number of NaN / ±Infinity voxels. */
  nonFinite: number;
}

/** Collect the `genesis info` facts of a volume. */
export function volumeInfo(vol: Volume): VolumeInfo {
  const stats = volumeStats(vol);
  const num = (v: number) => (Number.isFinite(v) ? v : null);
  const disk = String(vol.meta.datatype ?? "unknown");
  return {
    shape: vol.channels > 1 ? [...vol.shape, vol.channels] : [...vol.shape],
    spacing: [...vol.spacing],
    origin: [...vol.origin],
    affine: affineOf(vol),
    orientation: orientationCode(vol),
    datatype: vol.meta.byteOrder === "big" ? `${disk} (big-endian)` : disk,
    min: num(stats.min),
    max: num(stats.max),
    mean: num(stats.mean),
    nonFinite: stats.nonFinite,
  };
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, ""));

/** `genesis info <file | DICOM folder> [--json]`: shape, geometry, datatype and value summary of a volume. */
export function register(program: Command): void {
  const cmd = program
    .command("info")
    .description(
      "Print a volume's shape, spacing, origin, orientation, on-disk datatype, min/max/mean and non-finite count",
    )
    .argument(
      "<path>",
      "NIfTI (.nii, .nii.gz, .hdr/.img), MetaImage (.mhd, .mha), NumPy .npy, DICOM file or series folder",
    )
    .option(
      "--json",
      "print exactly one JSON object (keys: shape, spacing, origin, affine, orientation, datatype, min, max, mean, nonFinite)",
    );
  irregularSlicesOption(cmd).action(
    async (path: string, opts: { json?: boolean; irregularSlices?: string }) => {
      // the one input collection of every command: a file, or a folder holding exactly one volume
      const input = await collectOneVolume(path);
      const vol = await readVolume(input.path, volumeReadOptions(opts));
      const info = volumeInfo(vol);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(info)}\n`);
        return;
      }
      const v = (a: number[]) => a.map(fmt).join(" × ");
      const p = (a: number[]) => `(${a.map(fmt).join(", ")})`;
      const lines = [
        `file         ${input.path}${input.kind === "dicom-series" ? " (DICOM series)" : ""}`,
        `format       ${String(vol.meta.format ?? "?")}`,
        `shape        ${v(info.shape)}${vol.channels > 1 ? " (x × y × z × channels)" : " (x × y × z)"}`,
        `spacing      ${v(info.spacing)} mm`,
        `origin       ${p(info.origin)} mm RAS`,
        `orientation  ${info.orientation}`,
        `datatype     ${info.datatype}`,
        `min          ${info.min === null ? "n/a" : fmt(info.min)}`,
        `max          ${info.max === null ? "n/a" : fmt(info.max)}`,
        `mean         ${info.mean === null ? "n/a" : fmt(info.mean)}`,
        `non-finite   ${info.nonFinite}`,
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    },
  );
}
