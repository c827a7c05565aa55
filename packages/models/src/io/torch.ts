import { readFile } from "node:fs/promises";
import { unzipSync } from "fflate";
import { BufferReader, NameRegistry, Parser } from "pickleparser";

/**
 * Reading PyTorch `torch.save` files without Python.
 *
 * Two serialisations exist:
 * - **zip** (PyTorch ≥ 1.6): a zip archive `<name>/data.pkl` (the pickled object, tensors as
 *   persistent ids `('storage', StorageType, key, location, numel)`) and `<name>/data/<key>`
 *   (raw little-endian storage bytes).
 * - **legacy** (PyTorch < 1.6, e.g. the official `Genesis_Chest_CT.pt`, PyTorch 1.3): five pickles
 *   back to back — magic number, protocol version, sys info, the object (persistent ids
 *   `('storage', StorageType, root_key, location, numel, view_metadata)`), the list of storage keys —
 *   then, for each key in that order, an int64 element count followed by the raw storage bytes.
 *
 * Unpickling uses `pickleparser` with a name resolver for `torch._utils._rebuild_tensor_v2`,
 * `torch._utils._rebuild_parameter` and `collections.OrderedDict`, and a persistent resolver for
 * storages. Tensors are materialised only when asked for (optimizer state is never copied).
 */

/** A tensor read from a checkpoint, in PyTorch's own layout (C order over `shape`). */
export interface TorchTensor {
  dtype: TorchDType;
  shape: number[];
  /** float tensors as Float32Array (float64/float16/bfloat16 converted); integers as Float64Array. */
  data: Float32Array | Float64Array;
}

export type TorchDType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** Which serialisation a `.pt` file uses. */
export type TorchSerialization = "zip" | "legacy";

/** Thrown for an unreadable or unsupported checkpoint; the message names the file. */
export class CheckpointFormatError extends Error {
  override name = "CheckpointFormatError";
}

const STORAGE_TYPES: Record<string, { dtype: TorchDType; bytes: number }> = {
  FloatStorage: { dtype: "float32", bytes: 4 },
  DoubleStorage: { dtype: "float64", bytes: 8 },
  HalfStorage: { dtype: "float16", bytes: 2 },
  BFloat16Storage: { dtype: "bfloat16", bytes: 2 },
  LongStorage: { dtype: "int64", bytes: 8 },
  IntStorage: { dtype: "int32", bytes: 4 },
  ShortStorage: { dtype: "int16", bytes: 2 },
  CharStorage: { dtype: "int8", bytes: 1 },
  ByteStorage: { dtype: "uint8", bytes: 1 },
  BoolStorage: { dtype: "bool", bytes: 1 },
};

/** A storage referenced by the pickle; `bytes` is filled once the raw data has been located. */
class StorageRef {
  bytes?: Uint8Array;
  constructor(
    readonly key: string,
    readonly dtype: TorchDType,
    readonly elementSize: number,
    readonly numel: number,
  ) {}
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view into a storage. */
export class LazyTensor {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}

  /** Copy the view out as a C-ordered array. */
  materialize(file: string): TorchTensor {
    const { storage, offset, shape, stride } = this;
    const bytes = storage.bytes;
    if (!bytes) throw new CheckpointFormatError(`${file}: storage ${storage.key} has no data`);
    const all = decodeStorage(bytes, storage.dtype, file, storage.key);
    const n = shape.reduce((a, b) => a * b, 1);
    const out =
      storage.dtype === "int64" ||
      storage.dtype.startsWith("int") ||
      storage.dtype === "uint8" ||
      storage.dtype === "bool"
        ? new Float64Array(n)
        : new Float32Array(n);
    // Contiguous fast path.
    let contiguous = true;
    let expect = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      if (shape[i] !== 1 && stride[i] !== expect) contiguous = false;
      expect *= shape[i];
    }
    if (contiguous) {
      if (offset + n > all.length) {
        throw new CheckpointFormatError(
          `${file}: tensor view [${shape}] at offset ${offset} exceeds storage ${storage.key} (${all.length} elements)`,
        );
      }
      for (let i = 0; i < n; i++) out[i] = all[offset + i];
    } else {
      const idx = new Array<number>(shape.length).fill(0);
      for (let i = 0; i < n; i++) {
        let p = offset;
        for (let a = 0; a < shape.length; a++) p += idx[a] * stride[a];
        out[i] = all[p];
        for (let a = shape.length - 1; a >= 0; a--) {
          if (++idx[a] < shape[a]) break;
          idx[a] = 0;
        }
      }
    }
    return { dtype: storage.dtype, shape: [...shape], data: out };
  }
}

function decodeStorage(bytes: Uint8Array, dtype: TorchDType, file: string, key: string): ArrayLike<number> {
  const copy = bytes.slice(); // aligned, own buffer
  switch (dtype) {
    case "float32":
      return new Float32Array(copy.buffer, 0, copy.byteLength >> 2);
    case "float64":
      return new Float64Array(copy.buffer, 0, copy.byteLength >> 3);
    case "int32":
      return new Int32Array(copy.buffer, 0, copy.byteLength >> 2);
    case "int16":
      return new Int16Array(copy.buffer, 0, copy.byteLength >> 1);
    case "int8":
      return new Int8Array(copy.buffer);
    case "uint8":
    case "bool":
      return copy;
    case "int64": {
      const b = new BigInt64Array(copy.buffer, 0, copy.byteLength >> 3);
      return Float64Array.from(b, (v) => Number(v));
    }
    case "float16": {
      const u = new Uint16Array(copy.buffer, 0, copy.byteLength >> 1);
      return Float32Array.from(u, halfToFloat);
    }
    case "bfloat16": {
      const u = new Uint16Array(copy.buffer, 0, copy.byteLength >> 1);
      const f = new Float32Array(u.length);
      const bits = new Uint32Array(f.buffer);
      for (let i = 0; i < u.length; i++) bits[i] = u[i] << 16;
      return f;
    }
    default:
      throw new CheckpointFormatError(`${file}: storage ${key} has unsupported dtype ${String(dtype)}`);
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Python `collections.OrderedDict` (and any dict): a Map; pickled instance state (`_metadata`) is kept aside. */
export class PyDict extends Map<unknown, unknown> {
  pyState?: unknown;
  __setstate__(state: unknown): void {
    this.pyState = state;
  }
}

function makeParser(file: string, storages: Map<string, StorageRef>, legacy: boolean): Parser {
  const names = new NameRegistry();
  names.register("collections", "OrderedDict", (...items: unknown[]) => {
    const d = new PyDict();
    // OrderedDict([(k, v), ...]) when reduced with arguments.
    const first = items[0];
    if (Array.isArray(first)) for (const kv of first) if (Array.isArray(kv)) d.set(kv[0], kv[1]);
    return d;
  });
  names.register(
    "torch._utils",
    "_rebuild_tensor_v2",
    (storage: unknown, offset: number, size: number[], stride: number[]) => {
      if (!(storage instanceof StorageRef)) {
        throw new CheckpointFormatError(`${file}: _rebuild_tensor_v2 without a storage`);
      }
      return new LazyTensor(storage, Number(offset), size.map(Number), stride.map(Number));
    },
  );
  names.register(
    "torch._utils",
    "_rebuild_tensor",
    (storage: unknown, offset: number, size: number[], stride: number[]) => {
      if (!(storage instanceof StorageRef))
        throw new CheckpointFormatError(`${file}: _rebuild_tensor without a storage`);
      return new LazyTensor(storage, Number(offset), size.map(Number), stride.map(Number));
    },
  );
  names.register("torch._utils", "_rebuild_parameter", (data: unknown) => data);
  names.register("torch._utils", "_rebuild_parameter_with_state", (data: unknown) => data);
  // GLOBAL pushes the class itself: a marker function carrying the storage type name.
  for (const t of Object.keys(STORAGE_TYPES))
    names.register(
      "torch",
      t,
      Object.assign(() => t, { storageType: t }),
    );
  return new Parser({
    nameResolver: names,
    unpicklingTypeOfDictionary: "Map",
    persistentResolver: {
      resolve: (pid: unknown) => {
        if (!Array.isArray(pid) || pid[0] !== "storage") {
          throw new CheckpointFormatError(`${file}: unsupported persistent id ${JSON.stringify(pid)}`);
        }
        const typeName = storageTypeName(pid[1]);
        const info = STORAGE_TYPES[typeName];
        if (!info) throw new CheckpointFormatError(`${file}: unsupported storage type ${typeName}`);
        const key = String(pid[2]);
        const numel = Number(pid[4]);
        let ref = storages.get(key);
        if (!ref) {
          ref = new StorageRef(key, info.dtype, info.bytes, numel);
          storages.set(key, ref);
        }
        if (legacy && pid[5] != null) {
          // view_metadata = (view_key, offset, view_size): a view into the root storage.
          const [, viewOffset] = pid[5] as [string, number, number];
          return new StorageView(ref, Number(viewOffset));
        }
        return ref;
      },
    },
  });
}

/** Legacy storage views (rare): resolved to the root storage with an element offset. */
class StorageView extends StorageRef {
  constructor(
    readonly root: StorageRef,
    readonly viewOffset: number,
  ) {
    super(root.key, root.dtype, root.elementSize, root.numel);
  }
}

function storageTypeName(t: unknown): string {
  if (typeof t === "string") return t;
  if (typeof t === "function" && "storageType" in t)
    return String((t as { storageType: string }).storageType);
  // An unregistered class comes back as a pickleparser PObject carrying module/name.
  const o = t as { name?: string; __name__?: string; constructor?: { name?: string } };
  return String(o?.name ?? o?.__name__ ?? o?.constructor?.name ?? t);
}

/** A parsed checkpoint: the unpickled object with tensors as {@link LazyTensor}. */
export interface TorchCheckpoint {
  file: string;
  serialization: TorchSerialization;
  /** The root object: a Map for dicts/OrderedDicts. */
  root: unknown;
}

/**
 * Parse a `torch.save` file (zip or legacy serialisation).
 * @param src a path or the file's bytes
 * @param name the name used in error messages (defaults to the path)
 * @throws CheckpointFormatError naming the file when it is neither format or is truncated.
 */
export async function readTorchCheckpoint(src: string | Uint8Array, name?: string): Promise<TorchCheckpoint> {
  const file = name ?? (typeof src === "string" ? src : "<bytes>");
  let bytes: Uint8Array;
  try {
    bytes = typeof src === "string" ? new Uint8Array(await readFile(src)) : src;
  } catch (e) {
    throw new CheckpointFormatError(`${file}: cannot read the checkpoint (${(e as Error).message})`);
  }
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) {
    return readZip(bytes, file);
  }
  if (bytes.length >= 2 && bytes[0] === 0x80) return readLegacy(bytes, file);
  throw new CheckpointFormatError(
    `${file}: not a PyTorch checkpoint (neither a zip archive nor a legacy pickle stream)`,
  );
}

function readZip(bytes: Uint8Array, file: string): TorchCheckpoint {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (e) {
    throw new CheckpointFormatError(`${file}: corrupt zip archive (${(e as Error).message})`);
  }
  const pkl = Object.keys(entries).find((k) => k === "data.pkl" || k.endsWith("/data.pkl"));
  if (!pkl) throw new CheckpointFormatError(`${file}: zip archive without data.pkl (not a torch.save file)`);
  const prefix = pkl.slice(0, pkl.length - "data.pkl".length);
  const storages = new Map<string, StorageRef>();
  let root: unknown;
  try {
    root = makeParser(file, storages, false).parse(entries[pkl]);
  } catch (e) {
    if (e instanceof CheckpointFormatError) throw e;
    throw new CheckpointFormatError(`${file}: cannot unpickle data.pkl (${(e as Error).message})`);
  }
  for (const ref of storages.values()) {
    const data = entries[`${prefix}data/${ref.key}`];
    if (!data)
      throw new CheckpointFormatError(
        `${file}: storage ${prefix}data/${ref.key} is missing from the archive`,
      );
    if (data.byteLength < ref.numel * ref.elementSize) {
      throw new CheckpointFormatError(
        `${file}: storage ${ref.key} is truncated (${data.byteLength} bytes for ${ref.numel} elements)`,
      );
    }
    ref.bytes = data.subarray(0, ref.numel * ref.elementSize);
  }
  return { file, serialization: "zip", root };
}

/** Magic number of the legacy format (`torch/serialization.py` MAGIC_NUMBER). */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function readLegacy(bytes: Uint8Array, file: string): TorchCheckpoint {
  const reader = new BufferReader(bytes);
  const storages = new Map<string, StorageRef>();
  const plain = new Parser({ unpicklingTypeOfDictionary: "Map" });
  let root: unknown;
  let keys: unknown;
  try {
    // The magic number pickle is PROTO 2, LONG1 <10 bytes little-endian>, STOP. It is read here by
    // hand: pickleparser rejects LONG1 values beyond 2^53.
    if (bytes.length < 15 || bytes[2] !== 0x8a || bytes[3] !== 10 || bytes[14] !== 0x2e) {
      throw new CheckpointFormatError(`${file}: not a PyTorch checkpoint (no legacy magic number)`);
    }
    let magic = 0n;
    for (let i = 9; i >= 0; i--) magic = (magic << 8n) | BigInt(bytes[4 + i]);
    if (magic !== LEGACY_MAGIC) {
      throw new CheckpointFormatError(`${file}: not a PyTorch checkpoint (bad legacy magic number)`);
    }
    reader.skip(15);
    const protocol = plain.read<unknown>(reader);
    if (Number(protocol) !== 1001) {
      throw new CheckpointFormatError(
        `${file}: unsupported legacy protocol version ${String(protocol)} (expected 1001)`,
      );
    }
    const sysInfo = plain.read<unknown>(reader);
    if (sysInfo instanceof Map && sysInfo.get("little_endian") === false) {
      throw new CheckpointFormatError(`${file}: big-endian checkpoints are not supported`);
    }
    root = makeParser(file, storages, true).read<unknown>(reader);
    keys = plain.read<unknown>(reader);
  } catch (e) {
    if (e instanceof CheckpointFormatError) throw e;
    throw new CheckpointFormatError(
      `${file}: cannot unpickle the legacy checkpoint (${(e as Error).message})`,
    );
  }
  if (!Array.isArray(keys))
    throw new CheckpointFormatError(`${file}: legacy checkpoint without a storage key list`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = reader.position;
  for (const k of keys) {
    const ref = storages.get(String(k));
    if (!ref)
      throw new CheckpointFormatError(`${file}: storage key ${String(k)} is not referenced by the pickle`);
    if (pos + 8 > bytes.length)
      throw new CheckpointFormatError(`${file}: truncated before storage ${ref.key}`);
    const numel = Number(view.getBigInt64(pos, true));
    pos += 8;
    const len = numel * ref.elementSize;
    if (pos + len > bytes.length) throw new CheckpointFormatError(`${file}: storage ${ref.key} is truncated`);
    ref.bytes = bytes.subarray(pos, pos + len);
    pos += len;
  }
  return { file, serialization: "legacy", root };
}

/** Resolve storage views created by legacy checkpoints into offsets on their root storage. */
function resolveView(t: LazyTensor): LazyTensor {
  if (t.storage instanceof StorageView) {
    return new LazyTensor(t.storage.root, t.offset + t.storage.viewOffset, t.shape, t.stride);
  }
  return t;
}

/** Which wrapper the state dict was found in, for provenance. */
export interface StateDictInfo {
  /** e.g. `state_dict` when the file held `{epoch, state_dict, optimizer_state_dict}`; null for a bare state dict. */
  wrapperKey: string | null;
  /** Key prefixes removed (`module.` from DataParallel, `base_model.` from the reference TargetNet). */
  strippedPrefixes: string[];
  /** `epoch` of the wrapper when present. */
  epoch: number | null;
}

/**
 * Extract the model `state_dict` from a parsed checkpoint: a bare state dict, or one wrapped as
 * `{epoch, state_dict, optimizer_state_dict}` (`pytorch/Genesis_Chest_CT.py`), `model_state_dict`
 * or `model`. Removes a `module.` prefix (DataParallel) shared by every key.
 * @returns tensors in PyTorch layout keyed by the cleaned names.
 * @throws CheckpointFormatError when no state dict of tensors is found.
 */
export function extractStateDict(ckpt: TorchCheckpoint): {
  tensors: Map<string, TorchTensor>;
  info: StateDictInfo;
} {
  const { root, file } = ckpt;
  if (!(root instanceof Map)) throw new CheckpointFormatError(`${file}: the checkpoint holds no dict`);
  let dict: Map<unknown, unknown> = root;
  let wrapperKey: string | null = null;
  if (![...root.values()].some((v) => v instanceof LazyTensor)) {
    for (const k of ["state_dict", "model_state_dict", "model", "net"]) {
      const v = root.get(k);
      if (v instanceof Map) {
        dict = v;
        wrapperKey = k;
        break;
      }
    }
  }
  const entries = [...dict.entries()].filter(([, v]) => v instanceof LazyTensor) as [string, LazyTensor][];
  if (entries.length === 0) {
    throw new CheckpointFormatError(
      `${file}: no state_dict of tensors found (top-level keys: ${[...root.keys()].map(String).join(", ")})`,
    );
  }
  const strippedPrefixes: string[] = [];
  let names = entries.map(([k]) => String(k));
  if (names.every((k) => k.startsWith("module."))) {
    names = names.map((k) => k.slice("module.".length));
    strippedPrefixes.push("module.");
  }
  // The reference classification TargetNet wraps the U-Net as `base_model` beside `dense_1`/`dense_2`.
  if (names.some((k) => k.startsWith("base_model."))) {
    names = names.map((k) => (k.startsWith("base_model.") ? k.slice("base_model.".length) : k));
    strippedPrefixes.push("base_model.");
  }
  const tensors = new Map<string, TorchTensor>();
  entries.forEach(([, t], i) => {
    tensors.set(names[i], resolveView(t).materialize(file));
  });
  const epoch = wrapperKey ? root.get("epoch") : null;
  return { tensors, info: { wrapperKey, strippedPrefixes, epoch: typeof epoch === "number" ? epoch : null } };
}
