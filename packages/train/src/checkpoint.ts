import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { GenesisModule } from "@models-genesis/models";
import * as tf from "@tensorflow/tfjs-core";
import { writeFileAtomic } from "./atomic.js";
import { CheckpointError } from "./errors.js";
import type { OptimizerState, SlotState } from "./optimizers.js";

/** Magic bytes at the start of a checkpoint file. */
export const CHECKPOINT_MAGIC = "MGCKPT01";

/** A tensor's place in the checkpoint's float32 payload. */
export interface CheckpointTensorEntry {
  group: "trainable" | "nonTrainable" | "optimizer";
  name: string;
  shape: number[];
  /** Offset in float32 elements from the start of the payload. */
  offset: number;
}

/** The JSON header of a checkpoint. */
export interface CheckpointHeader {
  format: "models-genesis-checkpoint";
  version: 1;
  createdAt: string;
  /** `GenesisModule.config` of the model that was trained. */
  modelConfig: Record<string, unknown>;
  /** Trainer loop state (epoch, step, rng, best loss, history…), see `Trainer`. */
  trainer: Record<string, unknown>;
  optimizer: Omit<OptimizerState, "slots">;
  /** State of each named callback. */
  callbacks: Record<string, unknown>;
  tensors: CheckpointTensorEntry[];
  /**
   * SHA-256 (hex) of the float32 payload; {@link readCheckpoint} refuses a file whose payload does
   * not match (bit rot, a partial copy). Absent in checkpoints written before it existed (then unchecked).
   */
  payloadSha256?: string;
}

/** A checkpoint in memory. */
export interface Checkpoint {
  header: CheckpointHeader;
  /** `${group}:${name}` → values */
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

/** Everything {@link writeCheckpoint} saves. */
export interface CheckpointContent {
  model: GenesisModule;
  optimizer: OptimizerState;
  trainer: Record<string, unknown>;
  callbacks: Record<string, unknown>;
}

/**
 * Write a checkpoint as one file, atomically (temp + fsync + rename). Layout: 8 magic bytes
 * `MGCKPT01`, uint32 LE header byte length, UTF-8 JSON {@link CheckpointHeader}, zero padding to a
 * multiple of 8 bytes, then little-endian float32 values of every tensor (model trainable weights,
 * non-trainable weights such as BN running statistics, optimizer slots) at the offsets the header lists.
 */
export async function writeCheckpoint(path: string, c: CheckpointContent): Promise<void> {
  const entries: CheckpointTensorEntry[] = [];
  const datas: Float32Array[] = [];
  let offset = 0;
  const add = (group: CheckpointTensorEntry["group"], name: string, shape: number[], data: Float32Array) => {
    entries.push({ group, name, shape, offset });
    datas.push(data);
    offset += data.length;
  };
  for (const [name, v] of c.model.trainableWeights)
    add("trainable", name, [...v.shape], Float32Array.from(await v.data()));
  for (const [name, v] of c.model.nonTrainableWeights)
    add("nonTrainable", name, [...v.shape], Float32Array.from(await v.data()));
  for (const [name, s] of c.optimizer.slots) add("optimizer", name, s.shape, s.data);
  const { slots: _slots, ...opt } = c.optimizer;
  const hash = createHash("sha256");
  for (const d of datas) hash.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  const header: CheckpointHeader = {
    format: "models-genesis-checkpoint",
    version: 1,
    createdAt: new Date().toISOString(),
    modelConfig: c.model.config,
    trainer: c.trainer,
    optimizer: opt,
    callbacks: c.callbacks,
    tensors: entries,
    payloadSha256: hash.digest("hex"),
  };
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const pre = 8 + 4 + json.length;
  const pad = (8 - (pre % 8)) % 8;
  const head = Buffer.alloc(pre + pad);
  head.write(CHECKPOINT_MAGIC, 0, "latin1");
  head.writeUInt32LE(json.length, 8);
  json.copy(head, 12);
  const chunks: Uint8Array[] = [head];
  for (const d of datas) chunks.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  await writeFileAtomic(path, chunks);
}

/**
 * Read a checkpoint written by {@link writeCheckpoint}.
 * @throws CheckpointError naming the file and the problem when it is missing, not a checkpoint,
 *   truncated, longer than its header says, or its payload does not match the header's SHA-256
 */
export async function readCheckpoint(path: string): Promise<Checkpoint> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read checkpoint (${(e as Error).message})`);
  }
  if (buf.length < 12 || buf.toString("latin1", 0, 8) !== CHECKPOINT_MAGIC) {
    throw new CheckpointError(`${path}: not a models-genesis checkpoint (bad magic)`);
  }
  const hlen = buf.readUInt32LE(8);
  if (12 + hlen > buf.length) throw new CheckpointError(`${path}: truncated header`);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(buf.toString("utf8", 12, 12 + hlen));
  } catch (e) {
    throw new CheckpointError(`${path}: header is not JSON (${(e as Error).message})`);
  }
  if (header?.format !== "models-genesis-checkpoint" || !Array.isArray(header.tensors)) {
    throw new CheckpointError(`${path}: header is not a models-genesis checkpoint header`);
  }
  const start = 12 + hlen + ((8 - ((12 + hlen) % 8)) % 8);
  const payload = buf.subarray(start);
  const total = header.tensors.reduce(
    (s, t) => Math.max(s, t.offset + t.shape.reduce((a, b) => a * b, 1)),
    0,
  );
  if (payload.length < total * 4) {
    throw new CheckpointError(`${path}: truncated payload (${payload.length} bytes, ${total * 4} expected)`);
  }
  if (payload.length > total * 4) {
    throw new CheckpointError(
      `${path}: corrupt: ${payload.length - total * 4} bytes after the payload (${total * 4} expected)`,
    );
  }
  if (header.payloadSha256 !== undefined) {
    const sum = createHash("sha256").update(payload).digest("hex");
    if (sum !== header.payloadSha256)
      throw new CheckpointError(`${path}: corrupt: the payload does not match its SHA-256 checksum`);
  }
  const aligned = new Float32Array(total);
  new Uint8Array(aligned.buffer).set(payload.subarray(0, total * 4));
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const t of header.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    tensors.set(`${t.group}:${t.name}`, {
      shape: t.shape,
      data: aligned.subarray(t.offset, t.offset + size),
    });
  }
  return { header, tensors };
}

/**
 * Assign a checkpoint's weights into `model` (trainable and non-trainable).
 * @param path file name, for error messages
 * @throws CheckpointError naming the file and the weight when one is missing or has another shape
 */
export function loadModelWeights(model: GenesisModule, ckpt: Checkpoint, path = "checkpoint"): void {
  const groups: Array<["trainable" | "nonTrainable", ReadonlyMap<string, tf.Variable>]> = [
    ["trainable", model.trainableWeights],
    ["nonTrainable", model.nonTrainableWeights],
  ];
  for (const [group, weights] of groups) {
    for (const [name, v] of weights) {
      const t = ckpt.tensors.get(`${group}:${name}`);
      if (!t) throw new CheckpointError(`${path}: no ${group} weight "${name}" in the checkpoint`);
      if (!tf.util.arraysEqual(t.shape, v.shape)) {
        throw new CheckpointError(
          `${path}: weight "${name}" has shape [${t.shape}] in the checkpoint but [${v.shape}] in the model`,
        );
      }
      tf.tidy(() => v.assign(tf.tensor(t.data, t.shape, "float32")));
    }
  }
}

/** The optimizer state stored in a checkpoint (header fields + slot tensors). */
export function optimizerStateOf(ckpt: Checkpoint): OptimizerState {
  const slots = new Map<string, SlotState>();
  for (const t of ckpt.header.tensors) {
    if (t.group !== "optimizer") continue;
    const v = ckpt.tensors.get(`optimizer:${t.name}`)!;
    slots.set(t.name, { shape: v.shape, data: Float32Array.from(v.data) });
  }
  return { ...ckpt.header.optimizer, slots };
}
