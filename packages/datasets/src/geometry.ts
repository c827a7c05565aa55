import { lpsToRas, type Vec3, type Volume } from "@models-genesis/volume-io";

/**
 * World ↔ voxel conversions for the LUNA16-style CSVs, whose coordinates are **LPS** millimetres,
 * while a `Volume` places its voxels in **RAS** millimetres (`packages/volume-io/src/volume.ts`).
 */

/** LPS ↔ RAS for a point: negate the first two world axes (the map is its own inverse). */
export function flipLpsRas(p: Vec3): Vec3 {
  return [-p[0], -p[1], p[2]];
}

/**
 * Map a world point in LPS mm (LUNA16 `coordX/Y/Z`, DICOM, MetaImage) to continuous voxel
 * coordinates `(x, y, z)` of `vol`: first LPS → RAS, then the inverse of
 * `world = origin + direction · diag(spacing) · index`. Voxel centres sit at integer coordinates.
 *
 * @throws Error when the volume's direction·spacing matrix is singular.
 */
export function worldLpsToVoxel(vol: Pick<Volume, "origin" | "direction" | "spacing">, lps: Vec3): Vec3 {
  const ras = lpsToRas(lps);
  const d: Vec3 = [ras[0] - vol.origin[0], ras[1] - vol.origin[1], ras[2] - vol.origin[2]];
  // M = direction · diag(spacing); solve M v = d by Cramer's rule.
  const m = [0, 1, 2].map((r) => [0, 1, 2].map((c) => vol.direction[r][c] * vol.spacing[c]));
  const det =
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  if (Math.abs(det) < 1e-12)
    throw new Error("worldLpsToVoxel: the volume's direction · spacing matrix is singular");
  const col = (j: number): number => {
    const a = m.map((row) => row.slice());
    for (let r = 0; r < 3; r++) a[r][j] = d[r];
    return (
      (a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
        a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
        a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])) /
      det
    );
  };
  return [col(0), col(1), col(2)];
}

/** Map continuous voxel coordinates `(x, y, z)` of `vol` to a world point in LPS mm. */
export function voxelToWorldLps(vol: Pick<Volume, "origin" | "direction" | "spacing">, v: Vec3): Vec3 {
  const ras: Vec3 = [0, 0, 0];
  for (let r = 0; r < 3; r++) {
    ras[r] = vol.origin[r];
    for (let c = 0; c < 3; c++) ras[r] += vol.direction[r][c] * vol.spacing[c] * v[c];
  }
  return flipLpsRas(ras);
}

/** Round continuous voxel coordinates to the nearest voxel index. */
export function roundVoxel(v: Vec3): Vec3 {
  return [Math.round(v[0]), Math.round(v[1]), Math.round(v[2])];
}

/** Whether an integer voxel index lies inside a volume of spatial shape `shape`. */
export function insideShape(shape: Vec3, v: Vec3): boolean {
  return v.every((c, i) => c >= 0 && c < shape[i]);
}
