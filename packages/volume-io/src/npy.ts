/**
 * NumPy `.npy` reading and writing (format versions 1.0, 2.0 and 3.0; see numpy
 * `lib/format.py`). The official Models Genesis pretraining cubes
 * `bat_32_s_64x64x32_N.npy` are float64 arrays of shape (N, 64, 64, 32).
 */
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "./atomic.js";
import { VolumeReadError } from "./errors.js";

/** Typed arrays an `.npy` array may decode to. */
export type NpyData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A decoded `.npy` array, always in C order (last axis fastest). */
export interface NpyArray {
  /** Elements in C order; length = product of `shape`. */
  data: NpyData;
  /** Array shape, e.g. `[N, 64, 64, 32]`. */
  shape: number[];
  /**
   * NumPy dtype name: `bool`, `int8` … `uint64`, `float16`, `float32`, `float64`. `bool` decodes to
   * a `Uint8Array` of 0/1 and `float16` to a `Float32Array`.
   */
  dtype: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

interface Descr {
  dtype: string;
  size: number;
  littleEndian: boolean;
}

function parseDescr(file: string, descr: string): Descr {
  const m = /^([<>|=]?)([a-zA-Z])(\d*)$/.exec(descr);
  if (!m)
    throw new VolumeReadError(
      file,
      `unsupported .npy dtype ${JSON.stringify(descr)} (structured or unknown)`,
    );
  const [, order, kind, sizeStr] = m;
  const size = Number(sizeStr || "0");
  const littleEndian = order !== ">";
  if (kind === "O")
    throw new VolumeReadError(
      file,
      `object dtype ${descr} is not supported (it holds pickled Python objects, not numbers)`,
    );
  const names: Record<string, Record<number, string>> = {
    b: { 1: "bool" },
    i: { 1: "int8", 2: "int16", 4: "int32", 8: "int64" },
    u: { 1: "uint8", 2: "uint16", 4: "uint32", 8: "uint64" },
    f: { 2: "float16", 4: "float32", 8: "float64" },
  };
  const name = names[kind]?.[size];
  if (!name)
    throw new VolumeReadError(
      file,
      `unsupported .npy dtype ${JSON.stringify(descr)} (only bool, integers and float16/32/64)`,
    );
  return { dtype: name, size, littleEndian };
}

function parseHeaderDict(file: string, text: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*(['"])(.*?)\1/.exec(text);
  if (!descr) {
    if (/['"]descr['"]\s*:\s*\[/.test(text))
      throw new VolumeReadError(file, "structured .npy dtypes are not supported");
    throw new VolumeReadError(
      file,
      `corrupt .npy header: no 'descr' in ${JSON.stringify(text.slice(0, 120))}`,
    );
  }
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  if (!fortran)
    throw new VolumeReadError(
      file,
      `corrupt .npy header: no 'fortran_order' in ${JSON.stringify(text.slice(0, 120))}`,
    );
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!shape)
    throw new VolumeReadError(
      file,
      `corrupt .npy header: no 'shape' in ${JSON.stringify(text.slice(0, 120))}`,
    );
  const dims = shape[1]
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const v = /^(\d+)L?$/.exec(s);
      if (!v) throw new VolumeReadError(file, `corrupt .npy header: shape entry ${JSON.stringify(s)}`);
      return Number(v[1]);
    });
  return { descr: descr[2], fortran: fortran[1] === "True", shape: dims };
}

function typedFrom(dtype: string, buf: ArrayBuffer, n: number): NpyData {
  switch (dtype) {
    case "bool":
    case "uint8":
      return new Uint8Array(buf, 0, n);
    case "int8":
      return new Int8Array(buf, 0, n);
    case "int16":
      return new Int16Array(buf, 0, n);
    case "uint16":
      return new Uint16Array(buf, 0, n);
    case "int32":
      return new Int32Array(buf, 0, n);
    case "uint32":
      return new Uint32Array(buf, 0, n);
    case "int64":
      return new BigInt64Array(buf, 0, n);
    case "uint64":
      return new BigUint64Array(buf, 0, n);
    case "float32":
      return new Float32Array(buf, 0, n);
    case "float64":
      return new Float64Array(buf, 0, n);
    case "float16": {
      const h = new Uint16Array(buf, 0, n);
      const f = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const v = h[i];
        const s = v & 0x8000 ? -1 : 1;
        const e = (v >> 10) & 0x1f;
        const m = v & 0x3ff;
        f[i] =
          e === 0
            ? s * 2 ** -14 * (m / 1024)
            : e === 31
              ? m
                ? Number.NaN
                : s * Number.POSITIVE_INFINITY
              : s * 2 ** (e - 15) * (1 + m / 1024);
      }
      return f;
    }
  }
  throw new Error(`unreachable dtype ${dtype}`);
}

/** Reorder a Fortran-order (first axis fastest) array into C order (last axis fastest). */
export function fortranToC<T extends NpyData>(src: T, shape: number[]): T {
  const n = src.length;
  const Ctor = src.constructor as { new (n: number): T };
  const dst = new Ctor(n);
  if (n === 0) return dst;
  const nd = shape.length;
  const cStride = new Array<number>(nd);
  let s = 1;
  for (let a = nd - 1; a >= 0; a--) {
    cStride[a] = s;
    s *= shape[a];
  }
  const idx = new Array<number>(nd).fill(0);
  const d = dst as unknown as { [i: number]: number | bigint };
  const v = src as unknown as { [i: number]: number | bigint };
  let pos = 0;
  for (let i = 0; i < n; i++) {
    d[pos] = v[i];
    for (let a = 0; a < nd; a++) {
      idx[a]++;
      pos += cStride[a];
      if (idx[a] < shape[a]) break;
      pos -= shape[a] * cStride[a];
      idx[a] = 0;
    }
  }
  return dst;
}

/**
 * Decode the bytes of an `.npy` file. Fortran-order arrays are transposed so `data` is always C order.
 * @throws VolumeReadError naming `fileName` for a wrong magic, an unsupported version, a corrupt
 *   header, object/structured/complex/string dtypes, or data shorter than the header declares.
 */
export function parseNpy(bytes: Uint8Array, fileName = "<npy bytes>"): NpyArray {
  if (bytes.length === 0) throw new VolumeReadError(fileName, "is empty");
  if (bytes.length < 10 || !MAGIC.every((m, i) => bytes[i] === m))
    throw new VolumeReadError(fileName, "wrong magic: not a NumPy .npy file (expected \\x93NUMPY)");
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let hlen: number;
  let start: number;
  if (major === 1) {
    hlen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new VolumeReadError(fileName, "truncated .npy header");
    hlen = dv.getUint32(8, true);
    start = 12;
  } else throw new VolumeReadError(fileName, `unsupported .npy format version ${major}.${bytes[7]}`);
  if (start + hlen > bytes.length)
    throw new VolumeReadError(
      fileName,
      `corrupt .npy header: header length ${hlen} runs past the end of the file (${bytes.length} bytes)`,
    );
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(start, start + hlen));
  if (!/^\s*\{/.test(text))
    throw new VolumeReadError(
      fileName,
      `corrupt .npy header: not a dict literal (${JSON.stringify(text.slice(0, 60))})`,
    );
  const { descr, fortran, shape } = parseHeaderDict(fileName, text);
  const d = parseDescr(fileName, descr);
  const n = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + hlen;
  const nbytes = n * d.size;
  if (!Number.isSafeInteger(nbytes) || dataStart + nbytes > bytes.length)
    throw new VolumeReadError(
      fileName,
      `truncated: shape (${shape.join(", ")}) ${d.dtype} needs ${nbytes} data bytes, file has ${bytes.length - dataStart}`,
    );
  // aligned private copy of the data bytes
  const buf = bytes.buffer.slice(
    bytes.byteOffset + dataStart,
    bytes.byteOffset + dataStart + nbytes,
  ) as ArrayBuffer;
  const hostLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (d.size > 1 && d.littleEndian !== hostLE) {
    const u8 = new Uint8Array(buf);
    for (let o = 0; o < u8.length; o += d.size) u8.subarray(o, o + d.size).reverse();
  }
  let data = typedFrom(d.dtype, buf, n);
  if (fortran && shape.length > 1) data = fortranToC(data, shape);
  return { data, shape, dtype: d.dtype };
}

/**
 * Read an `.npy` file (see {@link parseNpy}).
 * @throws VolumeReadError naming the file when it is missing or malformed.
 */
export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new VolumeReadError(path, code === "ENOENT" ? "does not exist" : `cannot be read (${code})`, {
      cause: err,
    });
  }
  return parseNpy(bytes, path);
}

function descrOf(data: NpyData): string {
  const e = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? "<" : ">";
  if (data instanceof Float32Array) return `${e}f4`;
  if (data instanceof Float64Array) return `${e}f8`;
  if (data instanceof Int8Array) return "|i1";
  if (data instanceof Uint8Array) return "|u1";
  if (data instanceof Int16Array) return `${e}i2`;
  if (data instanceof Uint16Array) return `${e}u2`;
  if (data instanceof Int32Array) return `${e}i4`;
  if (data instanceof Uint32Array) return `${e}u4`;
  if (data instanceof BigInt64Array) return `${e}i8`;
  if (data instanceof BigUint64Array) return `${e}u8`;
  throw new Error("encodeNpy: unsupported array type");
}

/** The bytes of an `.npy` file (format 1.0, or 2.0 for huge headers; C order; host byte order). */
export function encodeNpy(arr: { data: NpyData | Uint8ClampedArray; shape: number[] }): Uint8Array {
  const data =
    arr.data instanceof Uint8ClampedArray
      ? new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.length)
      : arr.data;
  const n = arr.shape.reduce((a, b) => a * b, 1);
  if (n !== data.length)
    throw new Error(
      `encodeNpy: shape (${arr.shape.join(", ")}) has ${n} elements but data has ${data.length}`,
    );
  const shapeStr = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(", ")})`;
  let dict = `{'descr': '${descrOf(data)}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  let major = 1;
  let pre = 10;
  if (dict.length + 1 + pre > 65535) {
    major = 2;
    pre = 12;
  }
  const pad = (64 - ((pre + dict.length + 1) % 64)) % 64;
  dict = `${dict}${" ".repeat(pad)}\n`;
  const out = new Uint8Array(pre + dict.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, dict.length, true);
  else dv.setUint32(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[pre + i] = dict.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pre + dict.length);
  return out;
}

/**
 * Write an array as `.npy` (C order), atomically (temp file + rename). `shape` is in C order, e.g.
 * `[N, 64, 64, 32]` for a batch of cubes.
 * @throws Error when the shape does not match the data length.
 */
export async function writeNpy(
  path: string,
  arr: { data: NpyData | Uint8ClampedArray; shape: number[] },
): Promise<void> {
  await writeFileAtomic(path, encodeNpy(arr));
}
