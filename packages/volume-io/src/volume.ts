/**
 * The `Volume`: voxels plus the geometry that places them in the patient.
 *
 * ## Axis order and memory layout
 * Spatial axes are `(x, y, z)` = (rows, cols, deps) — the order the reference feeds its models
 * after transposing SimpleITK's (z, y, x) arrays (`spec/reference-facts.md`, "Axis convention").
 * `x` is the first voxel axis of the file (NIfTI `i`, MetaImage/DICOM columns), `y` the second
 * (`j`), `z` the third (`k`, slices).
 *
 * `data` is stored **row-major (C order) over `(x, y, z, c)`**: the last axis varies fastest,
 *
 *     index(x, y, z, c) = ((x * ny + y) * nz + z) * channels + c
 *
 * which is exactly the layout of a NumPy array of shape `(x, y, z)` (the official cubes
 * `(N, 64, 64, 32)`) and of a TF.js NDHWC tensor `(N, rows, cols, deps, C)`, so a volume or a cube
 * becomes a tensor without any transpose. (NIfTI stores `x` fastest; readers transpose once.)
 *
 * ## World coordinates
 * `origin`, `direction` and `affine` are in **RAS+** millimetres (the NIfTI / nibabel convention):
 * world axis 1 increases towards the patient's **Right**, axis 2 towards **Anterior**, axis 3
 * towards **Superior**. DICOM, MetaImage and the LUNA16 CSVs use **LPS+** (Left, Posterior,
 * Superior); `lpsToRas` / `rasToLps` flip the signs of the
 * first two world axes.
 *
 * The voxel-to-world mapping is
 *
 *     world = origin + direction · diag(spacing) · [x, y, z]ᵀ
 *
 * and `affine` is the same map as a 4×4 row-major matrix.
 */

/** The typed arrays a volume can hold. */
export type VoxelArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/** Whether voxels are intensities (interpolated linearly, transformed) or labels (nearest, never intensity-transformed). */
export type VolumeKind = "intensity" | "label";

/** A 3×3 matrix as three rows. */
export type Matrix3 = [[number, number, number], [number, number, number], [number, number, number]];
/** A 4×4 matrix as four rows. */
export type Matrix4 = [
  [number, number, number, number],
  [number, number, number, number],
  [number, number, number, number],
  [number, number, number, number],
];
export type Vec3 = [number, number, number];

/** A medical image volume with its geometry. See the module documentation for axis order and world convention. */
export interface Volume<T extends VoxelArray = VoxelArray> {
  /** Voxels, C order over (x, y, z, c); length = nx·ny·nz·channels. */
  readonly data: T;
  /** Spatial shape (nx, ny, nz) in voxels. */
  readonly shape: Vec3;
  /** Values per voxel: 1 for a scalar image; >1 for a 4-D/5-D file (time points or components, fastest axis). */
  readonly channels: number;
  /** Voxel size in mm along (x, y, z). Always positive. */
  readonly spacing: Vec3;
  /** World position (mm, RAS) of the centre of voxel (0, 0, 0). */
  readonly origin: Vec3;
  /** Direction cosines (RAS): column j is the unit world direction of voxel axis j. Rows are world axes. */
  readonly direction: Matrix3;
  /** Intensity or label map. */
  readonly kind: VolumeKind;
  /** Source header facts (format, datatype on disk, file, …); free-form, kept through writes where possible. */
  readonly meta: Record<string, unknown>;
}
