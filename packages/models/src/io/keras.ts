import { existsSync } from "node:fs";
import { open } from "node:fs/promises";

/**
 * Reading Keras 2.x HDF5 weight files through `h5wasm` (the HDF5 C library compiled to
 * WebAssembly; its Node build reads host files directly).
 *
 * Two layouts:
 * - **weights-only** (`model.save_weights(...)`): the root group carries a `layer_names` attribute;
 *   each layer group carries `weight_names` (e.g. `depth_0_conv/kernel:0`), the dataset path relative
 *   to the layer group.
 * - **whole model** (`model.save(...)`): the same tree under `/model_weights`, beside the
 *   `model_config` attribute.
 * Keras kernels are stored (k0, k1, k2, in, out) and Dense kernels (in, out) whatever the
 * `data_format`, which is already our layout.
 */

/** One weight of a Keras layer. */
export interface KerasWeight {
  /** Short name without the layer prefix and the `:0` suffix: `kernel`, `bias`, `gamma`, `moving_mean`, … */
  name: string;
  /** The full stored name, e.g. `depth_0_conv/kernel:0`. */
  storedName: string;
  shape: number[];
  data: Float32Array;
}

/** Which HDF5 layout a file uses. */
export type KerasH5Layout = "weights-only" | "whole-model";

/** The layers of a Keras HDF5 file in `layer_names` order (layers without weights included, with none). */
export interface KerasWeightsFile {
  file: string;
  layout: KerasH5Layout;
  kerasVersion: string | null;
  backend: string | null;
  layers: { name: string; weights: KerasWeight[] }[];
}

/** Thrown for an unreadable or unsupported HDF5 file; the message names the file. */
export class KerasH5FormatError extends Error {
  override name = "KerasH5FormatError";
}

type H5Module = typeof import("h5wasm");
let h5Promise: Promise<H5Module> | undefined;

/** Load h5wasm's Node build once (its `ready` promise resolves when the wasm module is compiled). */
async function h5(): Promise<H5Module> {
  h5Promise ??= (async () => {
    const mod = (await import("h5wasm/node")) as unknown as H5Module;
    await mod.ready;
    return mod;
  })();
  return h5Promise;
}

function attrValue(obj: { attrs: Record<string, { value: unknown }> }, name: string): unknown {
  const a = obj.attrs[name];
  return a ? a.value : undefined;
}

function asStrings(v: unknown): string[] {
  if (v == null) return [];
  if (typeof v === "string") return [v];
  if (Array.isArray(v))
    return v.map((s) => (s instanceof Uint8Array ? new TextDecoder().decode(s) : String(s)));
  return [];
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** The HDF5 superblock signature sits at byte 0, 512, 1024, 2048, … (after an optional user block). */
async function hasHdf5Signature(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const buf = new Uint8Array(8);
    for (let off = 0; off <= 1 << 20; off = off === 0 ? 512 : off * 2) {
      const { bytesRead } = await fh.read(buf, 0, 8, off);
      if (bytesRead < 8) return false;
      if (HDF5_SIGNATURE.every((b, i) => buf[i] === b)) return true;
    }
    return false;
  } finally {
    await fh.close();
  }
}

/**
 * Read every layer's weights from a Keras HDF5 file (either layout).
 * @throws KerasH5FormatError naming the file when it is missing, not HDF5, or not a Keras weights file.
 */
export async function readKerasH5(path: string): Promise<KerasWeightsFile> {
  if (!existsSync(path)) throw new KerasH5FormatError(`${path}: no such file`);
  if (!(await hasHdf5Signature(path))) {
    throw new KerasH5FormatError(`${path}: not a readable HDF5 file (no HDF5 signature)`);
  }
  const mod = await h5();
  let f: InstanceType<H5Module["File"]>;
  try {
    f = new mod.File(path, "r");
  } catch (e) {
    throw new KerasH5FormatError(`${path}: not a readable HDF5 file (${(e as Error).message})`);
  }
  try {
    let root: InstanceType<H5Module["Group"]> = f;
    let layout: KerasH5Layout = "weights-only";
    if (f.keys().includes("model_weights")) {
      const g = f.get("model_weights");
      if (g instanceof mod.Group) {
        root = g;
        layout = "whole-model";
      }
    }
    const layerNames = asStrings(attrValue(root, "layer_names"));
    if (layerNames.length === 0) {
      throw new KerasH5FormatError(
        `${path}: not a Keras weights file (no layer_names attribute at the root or under /model_weights)`,
      );
    }
    const kerasVersion =
      asStrings(attrValue(root, "keras_version") ?? attrValue(f, "keras_version"))[0] ?? null;
    const backend = asStrings(attrValue(root, "backend") ?? attrValue(f, "backend"))[0] ?? null;
    const layers: KerasWeightsFile["layers"] = [];
    for (const layer of layerNames) {
      const g = root.get(layer);
      if (!(g instanceof mod.Group)) throw new KerasH5FormatError(`${path}: layer group ${layer} is missing`);
      const weights: KerasWeight[] = [];
      for (const storedName of asStrings(attrValue(g, "weight_names"))) {
        const ds = g.get(storedName);
        if (!(ds instanceof mod.Dataset)) {
          throw new KerasH5FormatError(`${path}: dataset ${layer}/${storedName} is missing`);
        }
        const value = ds.value;
        const shape = (ds.shape ?? []).map(Number);
        let data: Float32Array;
        if (value instanceof Float32Array) data = value.slice();
        else if (value instanceof Float64Array) data = Float32Array.from(value);
        else {
          throw new KerasH5FormatError(
            `${path}: dataset ${layer}/${storedName} has unsupported dtype ${ds.dtype}`,
          );
        }
        const last = storedName.split("/").pop() ?? storedName;
        weights.push({ name: last.replace(/:\d+$/, ""), storedName, shape, data });
      }
      layers.push({ name: layer, weights });
    }
    return { file: path, layout, kerasVersion, backend, layers };
  } catch (e) {
    if (e instanceof KerasH5FormatError) throw e;
    throw new KerasH5FormatError(`${path}: cannot read the Keras weights (${(e as Error).message})`);
  } finally {
    f.close();
  }
}
