/**
 * Decoders for compressed DICOM pixel data, through maintained libraries:
 * JPEG 2000 (`@cornerstonejs/codec-openjpeg`, OpenJPEG in WebAssembly), JPEG-LS
 * (`@cornerstonejs/codec-charls`, CharLS in WebAssembly) and JPEG Lossless process 14
 * (`jpeg-lossless-decoder-js`). Each returns the frame's samples in host byte order.
 * The WebAssembly modules are loaded once, on first use.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** Transfer syntaxes these decoders handle, by codec. */
export const J2K_SYNTAXES = new Set(["1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"]);
export const JPEG_LS_SYNTAXES = new Set(["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"]);
export const JPEG_LOSSLESS_SYNTAXES = new Set(["1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"]);

/** Whether a transfer syntax has a decoder here. */
export function hasCodec(ts: string): boolean {
  return J2K_SYNTAXES.has(ts) || JPEG_LS_SYNTAXES.has(ts) || JPEG_LOSSLESS_SYNTAXES.has(ts);
}

interface WasmDecoder {
  getEncodedBuffer(n: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number };
  delete?(): void;
}
interface WasmModule {
  J2KDecoder?: new () => WasmDecoder;
  JpegLSDecoder?: new () => WasmDecoder;
}
type Factory = (opts: { print: (m: unknown) => void; printErr: (m: unknown) => void }) => Promise<WasmModule>;

/**
 * The decoders' console output, kept (not printed) while a frame is decoded: OpenJPEG reports why a
 * codestream is unusable only there (its decode() can return no samples without throwing).
 */
let messages: string[] | null = null;
const keep = (m: unknown) => {
  if (messages && messages.length < 20) messages.push(String(m).trim());
};
const quiet = { print: keep, printErr: keep };
let openjpeg: Promise<WasmModule> | null = null;
let charls: Promise<WasmModule> | null = null;
const loaded: { openjpeg?: WasmModule; charls?: WasmModule } = {};

/** Load the WebAssembly decoders needed for these transfer syntaxes (no-op for the others). */
export async function loadCodecs(syntaxes: Iterable<string>): Promise<void> {
  for (const ts of syntaxes) {
    if (J2K_SYNTAXES.has(ts) && !loaded.openjpeg) {
      openjpeg ??= (require("@cornerstonejs/codec-openjpeg/decodewasmjs") as Factory)(quiet);
      loaded.openjpeg = await openjpeg;
    }
    if (JPEG_LS_SYNTAXES.has(ts) && !loaded.charls) {
      charls ??= (require("@cornerstonejs/codec-charls/decodewasmjs") as Factory)(quiet);
      loaded.charls = await charls;
    }
  }
}

function runWasm(
  Dec: (new () => WasmDecoder) | undefined,
  name: string,
  bytes: Uint8Array,
): { samples: Uint8Array; width: number; height: number; bits: number; comps: number } {
  if (!Dec) throw new Error(`${name} decoder is not loaded`);
  const dec = new Dec();
  messages = [];
  // OpenJPEG's "[ERROR] …" lines say why; its "[INFO]" progress lines do not
  const said = () => {
    const all = (messages ?? []).filter((m) => m.length > 0);
    const errors = all.filter((m) => m.startsWith("[ERROR]")).map((m) => m.slice(7).trim());
    return (errors.length ? errors : all).join("; ");
  };
  try {
    dec.getEncodedBuffer(bytes.length).set(bytes);
    try {
      dec.decode();
    } catch (err) {
      const why = said();
      throw why
        ? new Error(`${err instanceof Error ? err.message : String(err)}: ${why}`, { cause: err })
        : err;
    }
    const info = dec.getFrameInfo();
    // copy out of the WebAssembly heap
    const samples = dec.getDecodedBuffer().slice();
    if (samples.length === 0)
      throw new Error(`${name} decoder returned no samples${said() ? `: ${said()}` : ""}`);
    return {
      samples,
      width: info.width,
      height: info.height,
      bits: info.bitsPerSample,
      comps: info.componentCount,
    };
  } finally {
    messages = null;
    dec.delete?.();
  }
}

interface JpegLosslessDecoder {
  decode(
    buffer: ArrayBufferLike,
    offset: number,
    length: number,
    numBytes?: number,
  ): ArrayBufferLike | ArrayBufferView;
}

/**
 * Decode one compressed frame. Returns host-order samples (1, 2 or 4 bytes each as the stream says).
 * @throws Error with the decoder's message when the stream is corrupt.
 */
export function decodeFrame(
  ts: string,
  bytes: Uint8Array,
  bitsAllocated: number,
): { samples: Uint8Array; width: number; height: number; comps: number } {
  if (J2K_SYNTAXES.has(ts)) return runWasm(loaded.openjpeg?.J2KDecoder, "JPEG 2000", bytes);
  if (JPEG_LS_SYNTAXES.has(ts)) return runWasm(loaded.charls?.JpegLSDecoder, "JPEG-LS", bytes);
  if (JPEG_LOSSLESS_SYNTAXES.has(ts)) {
    const { Decoder } = require("jpeg-lossless-decoder-js") as { Decoder: new () => JpegLosslessDecoder };
    const out = new Decoder().decode(
      bytes.buffer,
      bytes.byteOffset,
      bytes.length,
      Math.max(1, bitsAllocated / 8),
    );
    const view = ArrayBuffer.isView(out)
      ? new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
      : new Uint8Array(out);
    return { samples: view.slice(), width: 0, height: 0, comps: 1 };
  }
  throw new Error(`no decoder for transfer syntax ${ts}`);
}
