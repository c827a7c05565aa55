/**
 * A minimal `torch.save` writer for tests: a bare `state_dict` (an `OrderedDict` of float32
 * tensors) in the zip or the legacy serialisation, pickled with protocol 2 exactly as PyTorch
 * lays it out. It lets tests cover checkpoints without the wrapper and without `module.`.
 */
import { zipSync } from "fflate";

const enc = new TextEncoder();

class PickleWriter {
  private parts: number[] = [];
  op(...bytes: number[]): this {
    this.parts.push(...bytes);
    return this;
  }
  str(s: string): this {
    const b = enc.encode(s);
    this.op(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24);
    this.parts.push(...b);
    return this;
  }
  int(n: number): this {
    return this.op(0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff); // BININT
  }
  global(module: string, name: string): this {
    this.op(0x63);
    this.parts.push(...enc.encode(`${module}\n${name}\n`));
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

const MARK = 0x28;
const TUPLE = 0x74;
const REDUCE = 0x52;

function stateDictPickle(
  tensors: { name: string; shape: number[]; key: string }[],
  legacy: boolean,
): Uint8Array {
  const w = new PickleWriter().op(0x80, 2);
  w.global("collections", "OrderedDict").op(0x29, REDUCE); // OrderedDict()
  w.op(MARK);
  for (const t of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    w.str(t.name);
    w.global("torch._utils", "_rebuild_tensor_v2").op(MARK);
    w.op(MARK).str("storage").global("torch", "FloatStorage").str(t.key).str("cpu").int(numel);
    if (legacy) w.op(0x4e); // view_metadata None
    w.op(TUPLE, 0x51); // BINPERSID
    w.int(0); // storage offset
    w.op(MARK);
    for (const s of t.shape) w.int(s);
    w.op(TUPLE, MARK);
    for (const s of stride) w.int(s);
    w.op(TUPLE, 0x89); // requires_grad False
    w.global("collections", "OrderedDict").op(0x29, REDUCE); // backward hooks
    w.op(TUPLE, REDUCE);
  }
  w.op(0x75, 0x2e); // SETITEMS, STOP
  return w.bytes();
}

/** Serialise named float32 arrays (PyTorch layout) as `torch.save(state_dict)` would. */
export function writeTorchStateDict(
  tensors: { name: string; shape: number[]; data: Float32Array }[],
  serialization: "zip" | "legacy",
): Uint8Array {
  const withKeys = tensors.map((t, i) => ({ ...t, key: String(i) }));
  const pkl = stateDictPickle(withKeys, serialization === "legacy");
  if (serialization === "zip") {
    const files: Record<string, Uint8Array> = {
      "archive/data.pkl": pkl,
      "archive/version": enc.encode("3\n"),
    };
    for (const t of withKeys) files[`archive/data/${t.key}`] = new Uint8Array(t.data.buffer.slice(0));
    return zipSync(files, { level: 0 });
  }
  const magic = [0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];
  const protocol = [0x80, 2, 0x4d, 1001 & 0xff, 1001 >> 8, 0x2e];
  const sysInfo = [0x80, 2, 0x7d, 0x2e];
  const keys = new PickleWriter().op(0x80, 2, 0x5d, MARK);
  for (const t of withKeys) keys.str(t.key);
  keys.op(0x65, 0x2e); // APPENDS, STOP
  const chunks: Uint8Array[] = [Uint8Array.from([...magic, ...protocol, ...sysInfo]), pkl, keys.bytes()];
  for (const t of withKeys) {
    const count = new Uint8Array(8);
    new DataView(count.buffer).setBigInt64(0, BigInt(t.data.length), true);
    chunks.push(count, new Uint8Array(t.data.buffer.slice(0)));
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
