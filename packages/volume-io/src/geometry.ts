/**
 * Geometry of volumes: the voxel-to-world affine (RAS+ mm), LPS↔RAS conversion, orientation codes
 * and the NIfTI quaternion (qform) encoding.
 *
 * Conventions (see `volume.ts`): voxel axes (x, y, z) = (i, j, k); world = RAS+ millimetres;
 * `world = origin + direction · diag(spacing) · [x, y, z]ᵀ`.
 */
import type { Matrix3, Matrix4, Vec3, Volume } from "./volume.js";

/** Geometry fields of a volume. */
export interface Geometry {
  spacing: Vec3;
  origin: Vec3;
  direction: Matrix3;
}

/** The 3×3 identity. */
export function identity3(): Matrix3 {
  return [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
}

/**
 * The 4×4 voxel-to-world affine (RAS+ mm, row-major) of a volume or geometry:
 * `A[r][c] = direction[r][c] · spacing[c]` for r, c < 3, `A[r][3] = origin[r]`, last row `0 0 0 1`.
 */
export function affineOf(vol: Geometry | Volume): Matrix4 {
  const { spacing, origin, direction } = vol;
  const a: Matrix4 = [
    [0, 0, 0, origin[0]],
    [0, 0, 0, origin[1]],
    [0, 0, 0, origin[2]],
    [0, 0, 0, 1],
  ];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) a[r][c] = direction[r][c] * spacing[c];
  return a;
}

/**
 * Split a 4×4 voxel-to-world affine into spacing (column norms, mm), direction (unit columns; may be
 * non-orthogonal for sheared affines such as gantry-tilted CT, so `affineOf` reproduces the input
 * exactly) and origin (last column).
 * @throws RangeError when a column has zero length (degenerate affine).
 */
export function geometryFromAffine(a: Matrix4 | number[][]): Geometry {
  const spacing: Vec3 = [0, 0, 0];
  const direction = identity3();
  for (let c = 0; c < 3; c++) {
    const n = Math.hypot(a[0][c], a[1][c], a[2][c]);
    if (!(n > 0) || !Number.isFinite(n))
      throw new RangeError(`degenerate affine: column ${c} has length ${n}`);
    spacing[c] = n;
    for (let r = 0; r < 3; r++) direction[r][c] = a[r][c] / n;
  }
  return { spacing, origin: [a[0][3], a[1][3], a[2][3]], direction };
}

/** Negation that never produces −0 (keeps printed matrices clean). */
const neg = (v: number) => (v === 0 ? 0 : -v);

/**
 * Convert between LPS+ (DICOM, MetaImage, ITK, LUNA16 CSVs) and RAS+ (NIfTI, this package):
 * negate the first two world components. Accepts a world point (`Vec3`), a direction matrix
 * (`Matrix3`, rows = world axes) or a voxel-to-world affine (`Matrix4`); returns a new value.
 * The map is its own inverse, so `rasToLps` is the same function.
 */
export function lpsToRas(p: Vec3): Vec3;
export function lpsToRas(m: Matrix3): Matrix3;
export function lpsToRas(m: Matrix4): Matrix4;
export function lpsToRas(x: Vec3 | Matrix3 | Matrix4): Vec3 | Matrix3 | Matrix4 {
  if (typeof x[0] === "number") {
    const p = x as Vec3;
    return [neg(p[0]), neg(p[1]), p[2]];
  }
  const m = (x as number[][]).map((row, r) => (r < 2 ? row.map(neg) : row.slice()));
  return m as Matrix3 | Matrix4;
}

/** RAS+ → LPS+; identical to {@link lpsToRas} (negating x and y is an involution). */
export function rasToLps(p: Vec3): Vec3;
export function rasToLps(m: Matrix3): Matrix3;
export function rasToLps(m: Matrix4): Matrix4;
export function rasToLps(x: Vec3 | Matrix3 | Matrix4): Vec3 | Matrix3 | Matrix4 {
  return lpsToRas(x as Matrix4);
}

const POS = ["R", "A", "S"] as const;
const NEG = ["L", "P", "I"] as const;
const PERMS: [number, number, number][] = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];

/**
 * For each voxel axis, the world axis it is closest to and the sign: `axes[j]` = world axis
 * (0 = R/L, 1 = A/P, 2 = S/I) and `signs[j]` = ±1. Chosen as the permutation maximising the sum of
 * |direction| entries, so every world axis is used once even for oblique volumes (nibabel
 * `io_orientation` gives the same answer for non-degenerate rotations).
 */
export function axisAssignment(direction: Matrix3): { axes: Vec3; signs: Vec3 } {
  let best = PERMS[0];
  let bestScore = -1;
  for (const p of PERMS) {
    const s = Math.abs(direction[p[0]][0]) + Math.abs(direction[p[1]][1]) + Math.abs(direction[p[2]][2]);
    if (s > bestScore + 1e-12) {
      bestScore = s;
      best = p;
    }
  }
  const signs: Vec3 = [1, 1, 1];
  for (let j = 0; j < 3; j++) signs[j] = direction[best[j]][j] < 0 ? -1 : 1;
  return { axes: [best[0], best[1], best[2]], signs };
}

/**
 * The three-letter orientation code of a volume in the nibabel / NIfTI convention: letter j is the
 * world direction voxel axis j points **towards** (`"RAS"`: x → Right, y → Anterior, z → Superior;
 * `"LPS"`: the usual DICOM/ITK storage). Note ITK's `AnatomicalOrientation` tag uses the opposite
 * ("from") convention: ITK `RAI` is `LPS` here.
 */
export function orientationCode(vol: Geometry | Volume | Matrix3): string {
  const direction = Array.isArray(vol) ? vol : vol.direction;
  const { axes, signs } = axisAssignment(direction);
  return axes.map((a, j) => (signs[j] > 0 ? POS[a] : NEG[a])).join("");
}

/**
 * Parse an orientation code such as `"RAS"`, `"LPS"`, `"PIR"` into world axis and sign per voxel axis.
 * @throws RangeError for anything that is not three letters covering R/L, A/P and S/I once each.
 */
export function parseOrientationCode(code: string): { axes: Vec3; signs: Vec3 } {
  const up = code.toUpperCase();
  const axes: number[] = [];
  const signs: number[] = [];
  for (const ch of up) {
    const pi = POS.indexOf(ch as (typeof POS)[number]);
    const ni = NEG.indexOf(ch as (typeof NEG)[number]);
    if (pi >= 0) {
      axes.push(pi);
      signs.push(1);
    } else if (ni >= 0) {
      axes.push(ni);
      signs.push(-1);
    } else throw new RangeError(`orientation code "${code}": '${ch}' is not one of R L A P S I`);
  }
  if (axes.length !== 3 || new Set(axes).size !== 3)
    throw new RangeError(`orientation code "${code}" must name each of R/L, A/P, S/I exactly once`);
  return { axes: axes as Vec3, signs: signs as Vec3 };
}

/** 3×3 determinant. */
export function det3(m: Matrix3 | number[][]): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}

function inv3(m: number[][]): number[][] {
  const d = det3(m);
  return [
    [
      (m[1][1] * m[2][2] - m[1][2] * m[2][1]) / d,
      (m[0][2] * m[2][1] - m[0][1] * m[2][2]) / d,
      (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / d,
    ],
    [
      (m[1][2] * m[2][0] - m[1][0] * m[2][2]) / d,
      (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / d,
      (m[0][2] * m[1][0] - m[0][0] * m[1][2]) / d,
    ],
    [
      (m[1][0] * m[2][1] - m[1][1] * m[2][0]) / d,
      (m[0][1] * m[2][0] - m[0][0] * m[2][1]) / d,
      (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / d,
    ],
  ];
}

/** Nearest orthogonal matrix (polar decomposition by Newton iteration X ← (X + X⁻ᵀ)/2). */
function polar3(m: number[][]): number[][] {
  let x = m.map((r) => r.slice());
  for (let it = 0; it < 100; it++) {
    const xi = inv3(x);
    const next = x.map((row, r) => row.map((v, c) => 0.5 * (v + xi[c][r])));
    let diff = 0;
    for (let r = 0; r < 3; r++)
      for (let c = 0; c < 3; c++) diff = Math.max(diff, Math.abs(next[r][c] - x[r][c]));
    x = next;
    if (diff < 1e-15) break;
  }
  return x;
}

/** NIfTI qform parameters (nifti1.h "METHOD 2"). */
export interface Quatern {
  b: number;
  c: number;
  d: number;
  qx: number;
  qy: number;
  qz: number;
  /** Voxel sizes pixdim[1..3] (mm). */
  dx: number;
  dy: number;
  dz: number;
  /** pixdim[0]: −1 when the rotation needs a flipped k axis. */
  qfac: 1 | -1;
}

/**
 * Encode a 4×4 affine as NIfTI quaternion parameters, following `nifti_mat44_to_quatern`
 * (niftilib `nifti1_io.c`): columns are normalised, made orthogonal by polar decomposition (shear
 * cannot be stored in a qform), k is flipped when the determinant is negative.
 */
export function affineToQuatern(a: Matrix4): Quatern {
  const cols = [0, 1, 2].map((c) => [a[0][c], a[1][c], a[2][c]]);
  const d = cols.map((v) => Math.hypot(v[0], v[1], v[2]) || 1);
  let m = [0, 1, 2].map((r) => [0, 1, 2].map((c) => (cols[c][r] || 0) / d[c]));
  if (!Number.isFinite(det3(m)) || Math.abs(det3(m)) < 1e-12) m = identity3();
  m = polar3(m);
  let qfac: 1 | -1 = 1;
  if (det3(m) < 0) {
    qfac = -1;
    for (let r = 0; r < 3; r++) m[r][2] = -m[r][2];
  }
  const [r11, r12, r13] = m[0];
  const [r21, r22, r23] = m[1];
  const [r31, r32, r33] = m[2];
  let qa = r11 + r22 + r33 + 1;
  let qb: number;
  let qc: number;
  let qd: number;
  if (qa > 0.5) {
    qa = 0.5 * Math.sqrt(qa);
    qb = (0.25 * (r32 - r23)) / qa;
    qc = (0.25 * (r13 - r31)) / qa;
    qd = (0.25 * (r21 - r12)) / qa;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      qb = 0.5 * Math.sqrt(xd);
      qc = (0.25 * (r12 + r21)) / qb;
      qd = (0.25 * (r13 + r31)) / qb;
      qa = (0.25 * (r32 - r23)) / qb;
    } else if (yd > 1) {
      qc = 0.5 * Math.sqrt(yd);
      qb = (0.25 * (r12 + r21)) / qc;
      qd = (0.25 * (r23 + r32)) / qc;
      qa = (0.25 * (r13 - r31)) / qc;
    } else {
      qd = 0.5 * Math.sqrt(zd);
      qb = (0.25 * (r13 + r31)) / qd;
      qc = (0.25 * (r23 + r32)) / qd;
      qa = (0.25 * (r21 - r12)) / qd;
    }
    if (qa < 0) {
      qb = -qb;
      qc = -qc;
      qd = -qd;
    }
  }
  return { b: qb, c: qc, d: qd, qx: a[0][3], qy: a[1][3], qz: a[2][3], dx: d[0], dy: d[1], dz: d[2], qfac };
}

/**
 * Decode NIfTI quaternion parameters into a 4×4 affine (`nifti_quatern_to_mat44`, nifti1.h METHOD 2).
 * `a = sqrt(1 − b² − c² − d²)`; when float32 rounding leaves `1 − b² − c² − d²` below 1e-7 (a 180°
 * rotation stored as d = 1.0000001), (b, c, d) is renormalised to unit length and a = 0, as
 * nifti1_io does; the rotation is then built from the normalised quaternion (nibabel `quat2mat`),
 * so a stored flip gives exactly −1 · pixdim (−2, not −2.0000005). qfac is −1 when pixdim[0] < 0,
 * else +1.
 */
export function quaternToAffine(q: Quatern): Matrix4 {
  let { b, c, d } = q;
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    const norm = Math.hypot(b, c, d);
    if (norm > 0) {
      b /= norm;
      c /= norm;
      d /= norm;
    }
    a = 0;
  } else a = Math.sqrt(a);
  const nq = a * a + b * b + c * c + d * d;
  const k = nq > 0 ? 2 / nq : 0;
  const R = [
    [1 - k * (c * c + d * d), k * (b * c - a * d), k * (b * d + a * c)],
    [k * (b * c + a * d), 1 - k * (b * b + d * d), k * (c * d - a * b)],
    [k * (b * d - a * c), k * (c * d + a * b), 1 - k * (b * b + c * c)],
  ];
  const s = [q.dx, q.dy, q.dz * q.qfac];
  return [
    [R[0][0] * s[0], R[0][1] * s[1], R[0][2] * s[2], q.qx],
    [R[1][0] * s[0], R[1][1] * s[1], R[1][2] * s[2], q.qy],
    [R[2][0] * s[0], R[2][1] * s[1], R[2][2] * s[2], q.qz],
    [0, 0, 0, 1],
  ];
}
