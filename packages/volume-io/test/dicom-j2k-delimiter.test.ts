/**
 * JPEG 2000 DICOM whose encapsulated fragment *content* holds the bytes of the Sequence Delimitation
 * Item (FE FF DD E0 00 00 00 00), as pydicom's JPEG2000-embedded-sequence-delimiter.dcm does (issue 16).
 * The files are built from pydicom's MR_small_jp2klossless.dcm (MIT, shipped in fixtures/volume-io): a COM marker
 * segment carrying the pattern is put into the main header right after SIZ and COD (decoders skip
 * COM), the fragment item lengths (and the basic offset table) are adjusted, and the frame is also
 * split in two fragments with the pattern across the fragment boundary. Each must decode to the
 * same pixels as the unmodified file (dicom-parser walks encapsulated PixelData item by item, by the
 * item lengths, so the pattern inside a fragment never ends it). A file whose fragment really ends at
 * the pattern is refused with the parser's reason, and a codestream cut at the pattern (what
 * OpenJPEG decodes to 0 samples) with OpenJPEG's reason.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readVolume, VolumeReadError } from "../src/index.js";
import { FIXTURES } from "./helpers.js";

const SRC = resolve(FIXTURES, "formats/dicom/pydicom/MR_small_jp2klossless.dcm");
const DELIM = [0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0];

const u16 = (b: Uint8Array, p: number) => b[p] | (b[p + 1] << 8);
const u32 = (b: Uint8Array, p: number) =>
  (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const itemHeader = (len: number) => [0xfe, 0xff, 0x00, 0xe0, ...le32(len)];

function indexOf(hay: Uint8Array, needle: number[], from = 0): number {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The encapsulated PixelData of the source file: where its items start/end, and the one codestream. */
function split(file: Uint8Array) {
  const el = indexOf(file, [0xe0, 0x7f, 0x10, 0x00]);
  let p = el + 12; // tag, VR, 2 reserved, undefined length
  expect(u32(file, el + 8)).toBe(0xffffffff);
  const items = p;
  const frags: Uint8Array[] = [];
  for (;;) {
    const tag = u16(file, p + 2);
    const len = u32(file, p + 4);
    p += 8;
    if (tag === 0xe0dd) break;
    if (p - 8 !== items) frags.push(file.subarray(p, p + len)); // skip the basic offset table
    p += len;
  }
  expect(frags.length).toBe(1);
  return { head: file.subarray(0, items), tail: file.subarray(p), codestream: frags[0] };
}

/** The codestream with a COM segment holding `payload` right after its SIZ and COD segments. */
function withComment(cs: Uint8Array, payload: number[]): Uint8Array {
  expect([cs[0], cs[1], cs[2], cs[3]]).toEqual([0xff, 0x4f, 0xff, 0x51]);
  let p = 2;
  for (;;) {
    const marker = cs[p + 1];
    const len = (cs[p + 2] << 8) | cs[p + 3];
    p += 2 + len;
    if (marker === 0x52) break; // COD
  }
  const lcom = 2 + 2 + payload.length;
  const com = [0xff, 0x64, lcom >> 8, lcom & 0xff, 0x00, 0x00, ...payload]; // Rcom 0: binary
  const out = new Uint8Array(cs.length + com.length);
  out.set(cs.subarray(0, p), 0);
  out.set(com, p);
  out.set(cs.subarray(p), p + com.length);
  return out;
}

/** A DICOM file: the source's header and trailer around new items (optional basic offset table). */
function rebuild(
  src: ReturnType<typeof split>,
  fragments: Uint8Array[],
  bot?: number[],
  lengths?: number[],
): Uint8Array {
  const parts: number[] = [...itemHeader((bot?.length ?? 0) * 4), ...(bot ?? []).flatMap(le32)];
  fragments.forEach((f, i) => {
    parts.push(...itemHeader(lengths?.[i] ?? f.length), ...f);
  });
  parts.push(...DELIM);
  const body = Uint8Array.from(parts);
  const out = new Uint8Array(src.head.length + body.length + src.tail.length);
  out.set(src.head, 0);
  out.set(body, src.head.length);
  out.set(src.tail, src.head.length + body.length);
  return out;
}

const even = (b: Uint8Array) => (b.length % 2 ? Uint8Array.from([...b, 0]) : b);

describe("JPEG 2000 DICOM with the sequence delimiter bytes inside the codestream", () => {
  const dir = mkdtempSync(join(tmpdir(), "vio-j2k-delim-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, bytes: Uint8Array) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const src = split(new Uint8Array(readFileSync(SRC)));
  // the pattern behind a few text bytes, so that it lands at no particular alignment
  const cs = even(withComment(src.codestream, [0x41, 0x42, 0x43, ...DELIM, 0x44]));
  const at = indexOf(cs, DELIM);

  it("the built codestream carries the pattern in a COM segment after SIZ/COD", () => {
    expect(at).toBeGreaterThan(0);
    expect(cs[at - 8]).toBe(0x64); // FF 64 Lcom(2) Rcom(2) 'A' 'B' 'C'
  });

  // [name, build, whole pattern inside the PixelData bytes (else split by an item header)]
  const cases: [string, () => Uint8Array, boolean][] = [
    ["one fragment, empty basic offset table", () => rebuild(src, [cs]), true],
    ["one fragment, basic offset table [0]", () => rebuild(src, [cs], [0]), true],
    [
      "two fragments split inside the pattern, empty offset table",
      () => rebuild(src, [cs.subarray(0, at + 4), cs.subarray(at + 4)]),
      false,
    ],
    [
      "two fragments split inside the pattern, basic offset table [0]",
      () => rebuild(src, [cs.subarray(0, at + 4), cs.subarray(at + 4)], [0]),
      false,
    ],
    [
      "two fragments, the second starting with the whole pattern",
      () => rebuild(src, [cs.subarray(0, at), cs.subarray(at)]),
      true,
    ],
  ];
  for (const [name, build, whole] of cases) {
    it(`${name}: same pixels as the unmodified file`, async () => {
      const ref = await readVolume(SRC);
      const bytes = build();
      const first = indexOf(bytes, DELIM);
      const pixelEnd = bytes.length - src.tail.length - DELIM.length; // the real delimiter
      if (whole) expect(first).toBeLessThan(pixelEnd);
      else {
        expect(first).toBe(pixelEnd);
        // FE FF DD E0 | item header of the second fragment | 00 00 00 00
        const half = indexOf(bytes, DELIM.slice(0, 4), src.head.length);
        expect(Array.from(bytes.subarray(half + 4, half + 8))).toEqual([0xfe, 0xff, 0x00, 0xe0]);
        expect(Array.from(bytes.subarray(half + 12, half + 16))).toEqual([0, 0, 0, 0]);
      }
      const v = await readVolume(write(`${name.replace(/\W+/g, "_")}.dcm`, bytes));
      expect(v.shape).toEqual(ref.shape);
      expect(v.data.constructor).toBe(ref.data.constructor);
      expect(Array.from(v.data)).toEqual(Array.from(ref.data));
    });
  }

  it("a fragment that really ends at the pattern (codestream cut there) is refused with a reason", async () => {
    // the item length stops at the embedded pattern: a parser ends the PixelData there, and the
    // rest of the codestream is left where the next data element should be
    const bytes = rebuild(src, [cs], undefined, [at]);
    const p = write("cut.dcm", bytes);
    const err = await readVolume(p).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(VolumeReadError);
    const msg = (err as VolumeReadError).message;
    expect(msg).toContain(p);
    expect(msg).toMatch(/unreadable DICOM \(.*buffer overrun\)/);
  });

  it("a codestream cut at the pattern (well-formed DICOM, broken JPEG 2000) is refused with the decoder's reason", async () => {
    // what a writer that scanned for the delimiter bytes would have stored: the codestream up to them
    const p = write("truncated.dcm", rebuild(src, [even(cs.subarray(0, at))]));
    const err = await readVolume(p).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(VolumeReadError);
    const msg = (err as VolumeReadError).message;
    expect(msg).toContain(p);
    // the decoder's own reason, not only "decoded to 0 bytes"
    expect(msg).toMatch(/JPEG 2000 Lossless frame 0 could not be decoded \(.*Stream too short/);
  });
});
