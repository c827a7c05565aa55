/**
 * Streaming conversion of raw voxel bytes (any byte order, any plain numeric type, any disk axis
 * order) straight into the destination typed array in this package's C order over (x, y, z, c).
 *
 * Bytes arrive in chunks (a file read in pieces, or a gzip/zlib stream); each chunk is copied in
 * ≤ 1 MiB slices into an aligned scratch buffer, byte-swapped if needed, viewed as the source
 * type and scattered into the destination with optional `value·slope + inter` scaling. So the
 * peak memory of a read is the destination array plus one MiB — never a second full-size copy.
 */
import type { VoxelArray } from "./volume.js";

/** Plain numeric element types found on disk. */
export type DiskTypeName =
  | "int8"
  | "uint8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "uint64"
  | "float16"
  | "float32"
  | "float64";

/** Bytes per element of each disk type. */
export const BYTES_PER_ELEMENT: Record<DiskTypeName, number> = {
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  float16: 2,
  float32: 4,
  float64: 8,
};

/** Typed-array element types a decoded volume may use. */
export type VoxelTypeName =
  | "int8"
  | "uint8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "float32"
  | "float64";

/** Allocate a typed array of the given element type. */
export function allocVoxels(type: VoxelTypeName, length: number): VoxelArray {
  switch (type) {
    case "int8":
      return new Int8Array(length);
    case "uint8":
      return new Uint8Array(length);
    case "int16":
      return new Int16Array(length);
    case "uint16":
      return new Uint16Array(length);
    case "int32":
      return new Int32Array(length);
    case "uint32":
      return new Uint32Array(length);
    case "float32":
      return new Float32Array(length);
    case "float64":
      return new Float64Array(length);
  }
}

/** The element type name of a typed voxel array. */
export function voxelTypeOf(data: VoxelArray): VoxelTypeName {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Int16Array) return "int16";
  if (data instanceof Uint8Array) return "uint8";
  if (data instanceof Int8Array) return "int8";
  if (data instanceof Uint16Array) return "uint16";
  if (data instanceof Int32Array) return "int32";
  return "uint32";
}

/**
 * The destination type a reader uses for a disk type: the same type when it has a typed array
 * and no scaling applies; float32 when scaling applies (float64 when the disk type is float64);
 * float64 for 64-bit integers (exact up to 2^53) and float32 for float16. `float32: true` forces
 * float32 (what training consumes), converted directly from the source bytes.
 */
export function destinationType(disk: DiskTypeName, scaled: boolean, float32: boolean): VoxelTypeName {
  if (float32) return "float32";
  if (disk === "float64") return "float64";
  if (disk === "int64" || disk === "uint64") return "float64";
  if (disk === "float16") return "float32";
  if (scaled) return "float32";
  return disk;
}

const SCRATCH_BYTES = 1 << 20;

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** How bytes on disk map onto the destination. */
export interface DiskLayout {
  type: DiskTypeName;
  littleEndian: boolean;
  /** Axis sizes in disk order, fastest-varying first. */
  sizes: number[];
  /** Destination element stride of each of those axes. */
  strides: number[];
  /** Destination index of the first voxel (default 0), e.g. the slice offset of one DICOM frame. */
  offset?: number;
  /** Linear scaling `v·slope + inter` (omit for none). */
  slope?: number;
  inter?: number;
}

/**
 * Receives voxel bytes in disk order, in chunks of any size, and writes them into `dst`.
 * `push` returns true once every voxel has arrived; bytes after that are ignored.
 */
export class VoxelWriter {
  readonly total: number;
  private written = 0;
  private readonly bpe: number;
  private readonly scratch: ArrayBuffer;
  private readonly scratchU8: Uint8Array;
  private carry = 0;
  private readonly sizes: number[];
  private readonly strides: number[];
  private readonly idx: number[];
  private pos = 0;
  private readonly swap: boolean;
  private readonly slope: number;
  private readonly inter: number;
  private readonly scaled: boolean;
  private readonly view: (buf: ArrayBuffer, n: number) => ArrayLike<number>;
  private readonly kernel: ScatterKernel;

  constructor(
    layout: DiskLayout,
    readonly dst: VoxelArray,
  ) {
    this.bpe = BYTES_PER_ELEMENT[layout.type];
    // drop size-1 axes so the inner loop runs along a real axis
    const keep = layout.sizes.map((_, i) => i).filter((i) => layout.sizes[i] !== 1);
    this.sizes = keep.length ? keep.map((i) => layout.sizes[i]) : [1];
    this.strides = keep.length ? keep.map((i) => layout.strides[i]) : [1];
    this.idx = this.sizes.map(() => 0);
    this.pos = layout.offset ?? 0;
    this.total = layout.sizes.reduce((a, b) => a * b, 1);
    this.scratch = new ArrayBuffer(SCRATCH_BYTES);
    this.scratchU8 = new Uint8Array(this.scratch);
    const hostLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    this.swap = this.bpe > 1 && layout.littleEndian !== hostLE;
    this.slope = layout.slope ?? 1;
    this.inter = layout.inter ?? 0;
    this.scaled = this.slope !== 1 || this.inter !== 0;
    this.view = makeView(layout.type);
    this.kernel = scatterKernel(layout.type, voxelTypeOf(dst), this.scaled);
  }

  /** Voxels still expected. */
  get remaining(): number {
    return this.total - this.written;
  }

  get done(): boolean {
    return this.written >= this.total;
  }

  /** Feed the next bytes of voxel data (disk order). */
  push(bytes: Uint8Array): boolean {
    let off = 0;
    const bpe = this.bpe;
    while (off < bytes.length && this.written < this.total) {
      const room = SCRATCH_BYTES - this.carry;
      const take = Math.min(room, bytes.length - off, (this.total - this.written) * bpe - this.carry);
      this.scratchU8.set(bytes.subarray(off, off + take), this.carry);
      off += take;
      const have = this.carry + take;
      const n = Math.floor(have / bpe);
      if (n > 0) {
        if (this.swap) swapBytes(this.scratchU8, n, bpe);
        this.scatter(this.view(this.scratch, n), n);
      }
      const rest = have - n * bpe;
      if (rest > 0) this.scratchU8.copyWithin(0, n * bpe, have);
      this.carry = rest;
    }
    return this.done;
  }

  private scatter(src: ArrayLike<number>, n: number): void {
    this.pos = this.kernel(
      src,
      n,
      this.dst,
      this.pos,
      this.idx,
      this.sizes,
      this.strides,
      this.slope,
      this.inter,
    );
    this.written += n;
  }
}

type ScatterKernel = (
  src: ArrayLike<number>,
  n: number,
  dst: VoxelArray,
  pos: number,
  idx: number[],
  sizes: number[],
  strides: number[],
  slope: number,
  inter: number,
) => number;

const KERNEL_SOURCE = `
  const s0 = strides[0];
  const n0 = sizes[0];
  let i = 0;
  while (i < n) {
    const run = Math.min(n0 - idx[0], n - i);
    let p = pos;
    for (let k = 0; k < run; k++, p += s0) dst[p] = VALUE;
    i += run;
    idx[0] += run;
    pos += run * s0;
    if (idx[0] === n0) {
      idx[0] = 0;
      pos -= n0 * s0;
      for (let a = 1; a < sizes.length; a++) {
        idx[a]++;
        pos += strides[a];
        if (idx[a] < sizes[a]) break;
        pos -= sizes[a] * strides[a];
        idx[a] = 0;
      }
    }
  }
  return pos;`;

const kernels = new Map<string, ScatterKernel>();

/**
 * The scatter loop, compiled once per (source type, destination type, scaled) so that each copy is
 * monomorphic: one shared loop over many typed-array types runs several times slower in V8.
 */
function scatterKernel(srcType: string, dstType: string, scaled: boolean): ScatterKernel {
  const key = `${srcType}>${dstType}:${scaled}`;
  let k = kernels.get(key);
  if (!k) {
    const body = KERNEL_SOURCE.replace("VALUE", scaled ? "src[i + k] * slope + inter" : "src[i + k]");
    k = new Function(
      "src",
      "n",
      "dst",
      "pos",
      "idx",
      "sizes",
      "strides",
      "slope",
      "inter",
      body,
    ) as ScatterKernel;
    kernels.set(key, k);
  }
  return k;
}

function swapBytes(u8: Uint8Array, n: number, bpe: number): void {
  for (let e = 0, o = 0; e < n; e++, o += bpe) {
    for (let a = o, b = o + bpe - 1; a < b; a++, b--) {
      const t = u8[a];
      u8[a] = u8[b];
      u8[b] = t;
    }
  }
}

function makeView(type: DiskTypeName): (buf: ArrayBuffer, n: number) => ArrayLike<number> {
  switch (type) {
    case "int8":
      return (b, n) => new Int8Array(b, 0, n);
    case "uint8":
      return (b, n) => new Uint8Array(b, 0, n);
    case "int16":
      return (b, n) => new Int16Array(b, 0, n);
    case "uint16":
      return (b, n) => new Uint16Array(b, 0, n);
    case "int32":
      return (b, n) => new Int32Array(b, 0, n);
    case "uint32":
      return (b, n) => new Uint32Array(b, 0, n);
    case "float32":
      return (b, n) => new Float32Array(b, 0, n);
    case "float64":
      return (b, n) => new Float64Array(b, 0, n);
    case "int64":
      return (b, n) => Float64Array.from(new BigInt64Array(b, 0, n), (v) => Number(v));
    case "uint64":
      return (b, n) => Float64Array.from(new BigUint64Array(b, 0, n), (v) => Number(v));
    case "float16":
      return (b, n) => Float32Array.from(new Uint16Array(b, 0, n), halfToFloat);
  }
}

/**
 * Destination strides for C order over (x, y, z, c) — `index = ((x·ny + y)·nz + z)·C + c`.
 * Returns strides of x, y, z and c.
 */
export function cOrderStrides(
  shape: readonly [number, number, number],
  channels: number,
): [number, number, number, number] {
  const [, ny, nz] = shape;
  return [ny * nz * channels, nz * channels, channels, 1];
}
