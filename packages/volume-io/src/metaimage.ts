/**
 * MetaImage (ITK MetaIO) reading: `.mhd` header + separate data file (`.raw`, `.zraw`) or single-file
 * `.mha` (`ElementDataFile = LOCAL`) — the format of LUNA16.
 *
 * MetaImage geometry is LPS+ (ITK): `Offset` is the LPS position of voxel (0, 0, 0) and
 * `TransformMatrix` lists the direction cosines of voxel axis 0, then 1, then 2 (ITK
 * `MetaImageIO`: the matrix read row by row gives the direction *columns*). Both are converted to
 * RAS+ by negating the first two world components. Voxels are stored x fastest with channels
 * (`ElementNumberOfChannels`) interleaved fastest of all; readers transpose them into the C order
 * over (x, y, z, c) of `Volume`.
 */
import { open } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import { ByteReader, fileChunks, fileSize, inflateChunks } from "./bytes.js";
import {
  allocVoxels,
  BYTES_PER_ELEMENT,
  cOrderStrides,
  type DiskTypeName,
  destinationType,
  VoxelWriter,
} from "./decode.js";
import { VolumeReadError } from "./errors.js";
import { lpsToRas } from "./geometry.js";
import { MAX_VOXELS, type ReadOptions } from "./nifti.js";
import type { Matrix3, Vec3, Volume } from "./volume.js";

/** MetaIO `ElementType` names and their disk types (MetaIO `metaTypes.h` sizes). */
export const MET_TYPES: Record<string, DiskTypeName> = {
  MET_CHAR: "int8",
  MET_UCHAR: "uint8",
  MET_SHORT: "int16",
  MET_USHORT: "uint16",
  MET_INT: "int32",
  MET_UINT: "uint32",
  MET_LONG: "int32",
  MET_ULONG: "uint32",
  MET_LONG_LONG: "int64",
  MET_ULONG_LONG: "uint64",
  MET_FLOAT: "float32",
  MET_DOUBLE: "float64",
};

const HEADER_LIMIT = 1 << 16;

function parseNumbers(file: string, key: string, value: string, n?: number): number[] {
  const nums = value
    .trim()
    .split(/\s+/)
    .filter((s) => s.length)
    .map(Number);
  if (nums.some((v) => !Number.isFinite(v)))
    throw new VolumeReadError(file, `${key} = ${value.trim()} is not a list of numbers`);
  if (n !== undefined && nums.length < n)
    throw new VolumeReadError(file, `${key} has ${nums.length} values, NDims needs ${n}`);
  return nums;
}

const bool = (v: string | undefined) => v !== undefined && /^(true|1)$/i.test(v.trim());

/**
 * Read a MetaImage `.mhd` (header + data file) or `.mha` (header + data in one file).
 * Supports every scalar `ElementType`, `ElementNumberOfChannels`, `BinaryDataByteOrderMSB` /
 * `ElementByteOrderMSB`, `CompressedData` (zlib), `HeaderSize` (incl. −1 = data at the end),
 * 2-D, 3-D and 4-D (the 4th axis becomes channels) images.
 * @throws VolumeReadError naming the file: missing keys, unknown element types, absurd sizes, a
 *   missing or short data file, corrupt compressed data, multi-file (`LIST`/pattern) data.
 */
export async function readMetaImage(path: string, opts: ReadOptions = {}): Promise<Volume> {
  const size = await fileSize(path);
  if (size === 0) throw new VolumeReadError(path, "is empty");
  const fh = await open(path, "r");
  const head = new Uint8Array(Math.min(size, HEADER_LIMIT));
  try {
    await fh.read(head, 0, head.length, 0);
  } finally {
    await fh.close();
  }
  const text = new TextDecoder("latin1").decode(head);
  const fields = new Map<string, string>();
  let headerEnd = -1;
  let lineStart = 0;
  while (lineStart < text.length) {
    let nl = text.indexOf("\n", lineStart);
    if (nl < 0) nl = text.length;
    const line = text.slice(lineStart, nl).replace(/\r$/, "");
    lineStart = nl + 1;
    if (!line.trim()) continue;
    const m = /^\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) {
      if (fields.size === 0)
        throw new VolumeReadError(path, "not a MetaImage header (no 'Key = Value' lines)");
      throw new VolumeReadError(path, `malformed MetaImage header line ${JSON.stringify(line.slice(0, 60))}`);
    }
    fields.set(m[1].toLowerCase(), m[2].trim());
    if (m[1].toLowerCase() === "elementdatafile") {
      headerEnd = Math.min(nl + 1, size);
      break;
    }
  }
  if (headerEnd < 0)
    throw new VolumeReadError(
      path,
      "MetaImage header has no ElementDataFile line (or is longer than 64 KiB)",
    );
  const get = (k: string) => fields.get(k.toLowerCase());

  const ndims = Number(get("NDims"));
  if (!Number.isInteger(ndims) || ndims < 1 || ndims > 4)
    throw new VolumeReadError(path, `NDims = ${get("NDims")} is not 1..4`);
  const dimStr = get("DimSize");
  if (!dimStr) throw new VolumeReadError(path, "MetaImage header has no DimSize");
  const dims = parseNumbers(path, "DimSize", dimStr, ndims).slice(0, ndims);
  dims.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 1)
      throw new VolumeReadError(path, `DimSize[${i}] = ${d}: dimensions must be ≥ 1`);
  });
  const etName = (get("ElementType") ?? "").toUpperCase();
  const type = MET_TYPES[etName];
  if (!type)
    throw new VolumeReadError(
      path,
      etName ? `unknown or unsupported ElementType ${etName}` : "MetaImage header has no ElementType",
    );
  const comps = Number(get("ElementNumberOfChannels") ?? "1");
  if (!Number.isInteger(comps) || comps < 1)
    throw new VolumeReadError(path, `ElementNumberOfChannels = ${comps} is invalid`);
  const shape: Vec3 = [dims[0], dims[1] ?? 1, dims[2] ?? 1];
  const channels = comps * (dims[3] ?? 1);
  const nvals = shape[0] * shape[1] * shape[2] * channels;
  if (nvals > MAX_VOXELS)
    throw new VolumeReadError(path, `absurd dimensions ${dims.join("×")} (${nvals} values)`);
  const nbytes = nvals * BYTES_PER_ELEMENT[type];

  // geometry (LPS in the file)
  const spStr = get("ElementSpacing") ?? get("ElementSize");
  const sp = spStr ? parseNumbers(path, "ElementSpacing", spStr, Math.min(ndims, 3)) : [1, 1, 1];
  const spacing: Vec3 = [0, 1, 2].map((i) => (i < ndims ? Math.abs(sp[i] ?? 1) || 1 : 1)) as Vec3;
  const offStr = get("Offset") ?? get("Position") ?? get("Origin");
  const off = offStr ? parseNumbers(path, "Offset", offStr, Math.min(ndims, 3)) : [0, 0, 0];
  const originLps: Vec3 = [off[0] ?? 0, ndims > 1 ? (off[1] ?? 0) : 0, ndims > 2 ? (off[2] ?? 0) : 0];
  const tmStr = get("TransformMatrix") ?? get("Rotation") ?? get("Orientation");
  const dirLps: Matrix3 = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  if (tmStr) {
    const n = Math.min(ndims, 3);
    const tm = parseNumbers(path, "TransformMatrix", tmStr, ndims * ndims);
    for (let axis = 0; axis < n; axis++) for (let r = 0; r < n; r++) dirLps[r][axis] = tm[axis * ndims + r];
  }
  const msb = bool(get("BinaryDataByteOrderMSB") ?? get("ElementByteOrderMSB"));
  const compressed = bool(get("CompressedData"));
  if (get("BinaryData") !== undefined && !bool(get("BinaryData")))
    throw new VolumeReadError(path, "ASCII MetaImage data (BinaryData = False) is not supported");

  // data location
  const edf = get("ElementDataFile") ?? "";
  let dataPath: string;
  let dataStart: number;
  let dataSize: number;
  if (edf.toUpperCase() === "LOCAL") {
    dataPath = path;
    dataStart = headerEnd;
    dataSize = size;
  } else {
    if (/^LIST\b/i.test(edf) || /%\d*d/.test(edf) || edf.split(/\s+/).length > 1)
      throw new VolumeReadError(
        path,
        `multi-file MetaImage data (ElementDataFile = ${edf}) is not supported`,
      );
    dataPath = isAbsolute(edf) ? edf : join(dirname(path), edf);
    dataSize = await fileSize(dataPath, `data file ${edf} named by ElementDataFile`).catch(
      (err: VolumeReadError) => {
        throw new VolumeReadError(path, `data file ${dataPath} is missing or unreadable (${err.problem})`, {
          cause: err,
        });
      },
    );
    dataStart = 0;
  }
  const headerSize = Number(get("HeaderSize") ?? "0");
  if (!compressed) {
    if (headerSize === -1) dataStart = dataSize - nbytes;
    else if (Number.isInteger(headerSize) && headerSize > 0) dataStart += headerSize;
    if (dataStart < 0 || dataStart + nbytes > dataSize)
      throw new VolumeReadError(
        path,
        `${dataPath === path ? "data" : `data file ${dataPath}`} is short: ${dims.join("×")} ${etName} needs ${nbytes} bytes from offset ${Math.max(0, dataStart)}, the file has ${dataSize} bytes`,
      );
  } else {
    const csize = dataSize - dataStart;
    if (csize <= 0)
      throw new VolumeReadError(path, `compressed data is missing (${dataPath} ends at the header)`);
    if (nbytes > csize * 1032 + 1024)
      throw new VolumeReadError(
        dataPath,
        `declares ${nbytes} bytes of voxels, more than ${csize} compressed bytes can hold`,
      );
  }

  const float32 = opts.dtype === "float32";
  const data = allocVoxels(destinationType(type, false, float32), nvals);
  const [sx, sy, sz] = cOrderStrides(shape, channels);
  // disk order: components fastest, then x, y, z, then the 4th dimension
  const writer = new VoxelWriter(
    {
      type,
      littleEndian: !msb,
      sizes: [comps, shape[0], shape[1], shape[2], dims[3] ?? 1],
      strides: [1, sx, sy, sz, comps],
    },
    data,
  );
  let src: AsyncGenerator<Uint8Array> = fileChunks(dataPath, dataStart);
  if (compressed) {
    const m = new Uint8Array(2);
    const h2 = await open(dataPath, "r");
    try {
      await h2.read(m, 0, 2, dataStart);
    } finally {
      await h2.close();
    }
    src = inflateChunks(src, dataPath, m[0] === 0x1f && m[1] === 0x8b ? "gzip" : "zlib");
  }
  const reader = ByteReader.of(src, dataPath);
  try {
    await reader.pipe((b) => writer.push(b));
  } finally {
    await reader.close();
  }
  if (!writer.done)
    throw new VolumeReadError(
      dataPath,
      `data is short: ended after ${writer.total - writer.remaining} of ${writer.total} values`,
    );

  return {
    data,
    shape,
    channels,
    spacing,
    origin: lpsToRas(originLps),
    direction: lpsToRas(dirLps),
    kind: opts.kind ?? "intensity",
    meta: {
      file: path,
      format: path.toLowerCase().endsWith(".mha") ? "MetaImage .mha" : "MetaImage .mhd",
      datatype: type,
      elementType: etName,
      byteOrder: BYTES_PER_ELEMENT[type] > 1 ? (msb ? "big" : "little") : "n/a",
      compressed,
      dims,
      dataFile: dataPath,
      anatomicalOrientation: get("AnatomicalOrientation"),
    },
  };
}
