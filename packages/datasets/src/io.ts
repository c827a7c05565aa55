/**
 * The one place this package touches `@models-genesis/volume-io`'s readers and writers, so that
 * the dataset code depends on a narrow surface: `readVolume`, `readNpy`, `writeNpy`.
 */
import { readNpy, readVolume, type Volume, writeNpy } from "@models-genesis/volume-io";
import { DatasetError } from "./errors.js";

/** Read a volume (NIfTI, MetaImage `.mhd`, DICOM folder, …) and wrap reader failures in a DatasetError naming the file. */
export async function loadVolume(path: string): Promise<Volume> {
  try {
    return await readVolume(path);
  } catch (err) {
    if (err instanceof Error && err.message.includes(path)) throw err;
    throw new DatasetError(path, `cannot read volume (${(err as Error).message})`);
  }
}

/** A NumPy array as read: C-order values and shape. */
export interface NpyArray {
  data: ArrayLike<number>;
  shape: number[];
}

/** Read a `.npy` file. @throws DatasetError naming the file. */
export async function loadNpy(path: string): Promise<NpyArray> {
  try {
    const a = await readNpy(path);
    return { data: a.data as ArrayLike<number>, shape: [...a.shape] };
  } catch (err) {
    if (err instanceof Error && err.message.includes(path)) throw err;
    throw new DatasetError(path, `cannot read .npy (${(err as Error).message})`);
  }
}

/** Write a float32 `.npy` file of `shape` (C order). */
export async function saveNpy(path: string, data: Float32Array, shape: readonly number[]): Promise<void> {
  await writeNpy(path, { data, shape: [...shape] });
}
