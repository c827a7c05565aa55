/**
 * A tiny DICOM writer for tests: Explicit VR Little Endian (or an encapsulated transfer syntax) with
 * a 128-byte preamble, `DICM` and a file meta group. Enough to build synthetic CT series, multi-frame
 * RT Dose files and corrupt files in a test, without any shared data.
 */

/** An element: tag as 0xGGGGEEEE, VR, value (strings for text VRs, numbers for US/UL/SS, bytes for OB/OW). */
export type Element = [tag: number, vr: string, value: string | number | number[] | Uint8Array];

export const EXPLICIT_LE = "1.2.840.10008.1.2.1";
export const J2K_LOSSLESS = "1.2.840.10008.1.2.4.90";

const LONG_VRS = new Set(["OB", "OW", "OF", "OD", "SQ", "UN", "UT", "UC", "UR", "OL", "OV"]);

function textBytes(s: string, vr: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  if (b.length % 2 === 0) return b;
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  out[b.length] = vr === "UI" || vr === "OB" ? 0 : 0x20;
  return out;
}

function valueBytes(vr: string, value: Element[2]): Uint8Array {
  if (value instanceof Uint8Array) {
    if (value.length % 2 === 0) return value;
    const out = new Uint8Array(value.length + 1);
    out.set(value);
    return out;
  }
  if (typeof value === "string") return textBytes(value, vr);
  const nums = Array.isArray(value) ? value : [value];
  if (vr === "US" || vr === "SS") {
    const out = new Uint8Array(nums.length * 2);
    const dv = new DataView(out.buffer);
    for (const [i, v] of nums.entries()) {
      if (vr === "US") dv.setUint16(i * 2, v, true);
      else dv.setInt16(i * 2, v, true);
    }
    return out;
  }
  if (vr === "UL") {
    const out = new Uint8Array(nums.length * 4);
    const dv = new DataView(out.buffer);
    for (const [i, v] of nums.entries()) dv.setUint32(i * 4, v, true);
    return out;
  }
  // DS / IS given as numbers
  return textBytes(nums.join("\\"), vr);
}

function encodeElement(tag: number, vr: string, value: Uint8Array, undefinedLength = false): Uint8Array {
  const long = LONG_VRS.has(vr);
  const head = new Uint8Array(long ? 12 : 8);
  const dv = new DataView(head.buffer);
  dv.setUint16(0, tag >>> 16, true);
  dv.setUint16(2, tag & 0xffff, true);
  head[4] = vr.charCodeAt(0);
  head[5] = vr.charCodeAt(1);
  if (long) dv.setUint32(8, undefinedLength ? 0xffffffff : value.length, true);
  else dv.setUint16(6, value.length, true);
  return concat([head, value]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function item(tag: number, bytes: Uint8Array): Uint8Array {
  const head = new Uint8Array(8);
  const dv = new DataView(head.buffer);
  dv.setUint16(0, 0xfffe, true);
  dv.setUint16(2, tag, true);
  dv.setUint32(4, bytes.length, true);
  return concat([head, bytes]);
}

/**
 * The bytes of a DICOM file. `pixels`: native PixelData bytes (OW), or `{ fragments }` for encapsulated
 * pixel data (empty basic offset table, one item per fragment, sequence delimiter).
 */
export function dicomFile(opts: {
  elements: Element[];
  ts?: string;
  pixels?: Uint8Array | { fragments: Uint8Array[] };
}): Uint8Array {
  const ts = opts.ts ?? EXPLICIT_LE;
  const metaBody = concat([
    encodeElement(0x00020001, "OB", new Uint8Array([0, 1])),
    encodeElement(0x00020002, "UI", textBytes("1.2.840.10008.5.1.4.1.1.2", "UI")),
    encodeElement(0x00020003, "UI", textBytes("1.2.3.4.5", "UI")),
    encodeElement(0x00020010, "UI", textBytes(ts, "UI")),
  ]);
  const groupLength = new Uint8Array(4);
  new DataView(groupLength.buffer).setUint32(0, metaBody.length, true);
  const parts: Uint8Array[] = [
    new Uint8Array(128),
    new TextEncoder().encode("DICM"),
    encodeElement(0x00020000, "UL", groupLength),
    metaBody,
  ];
  const sorted = [...opts.elements].sort((a, b) => a[0] - b[0]);
  for (const [tag, vr, value] of sorted) parts.push(encodeElement(tag, vr, valueBytes(vr, value)));
  if (opts.pixels instanceof Uint8Array)
    parts.push(encodeElement(0x7fe00010, "OW", valueBytes("OW", opts.pixels)));
  else if (opts.pixels) {
    const body = concat([
      item(0xe000, new Uint8Array(0)),
      ...opts.pixels.fragments.map((f) => item(0xe000, valueBytes("OB", f))),
      item(0xe0dd, new Uint8Array(0)),
    ]);
    parts.push(encodeElement(0x7fe00010, "OB", body, true));
  }
  return concat(parts);
}

/** Little-endian bytes of 16-bit samples. */
export function int16Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dv.setInt16(i * 2, values[i], true);
  return out;
}

/**
 * One CT slice of a synthetic series: `rows`×`cols` int16 samples (default: value = z position
 * rounded, on every pixel), axial orientation unless `iop` is given, PixelSpacing 0.5\0.7.
 */
export function ctSlice(opts: {
  ipp: [number, number, number];
  iop?: number[];
  rows?: number;
  cols?: number;
  values?: ArrayLike<number>;
  series?: string;
  instance?: number;
  extra?: Element[];
}): Uint8Array {
  const rows = opts.rows ?? 3;
  const cols = opts.cols ?? 4;
  const values = opts.values ?? new Array(rows * cols).fill(Math.round(opts.ipp[2]));
  return dicomFile({
    elements: [
      [0x00080060, "CS", "CT"],
      [0x0020000e, "UI", opts.series ?? "1.2.3.99"],
      [0x00200013, "IS", String(opts.instance ?? 1)],
      [0x00200032, "DS", opts.ipp.join("\\")],
      [0x00200037, "DS", (opts.iop ?? [1, 0, 0, 0, 1, 0]).join("\\")],
      [0x00280002, "US", 1],
      [0x00280004, "CS", "MONOCHROME2"],
      [0x00280010, "US", rows],
      [0x00280011, "US", cols],
      [0x00280030, "DS", "0.5\\0.7"],
      [0x00280100, "US", 16],
      [0x00280101, "US", 16],
      [0x00280102, "US", 15],
      [0x00280103, "US", 1],
      ...(opts.extra ?? []),
    ],
    pixels: int16Bytes(values),
  });
}
