import { invert } from "./compose.js";
import type { Image3D, Shape3, Subject, Transform } from "./types.js";

/** Options of {@link dictionary}. */
export interface DictionaryOptions {
  /** Keys of the subject the transform acts on (MONAI `keys`). */
  keys: readonly string[];
  /** Skip keys absent from the subject instead of throwing (MONAI `allow_missing_keys`). Default false. */
  allowMissingKeys?: boolean;
}

/** The common spatial shape (x, y, z) of `subject[keys]`. @throws Error when shapes differ or no key is present. */
export function subjectShape(subject: Subject, keys?: readonly string[]): Shape3 {
  const names = (keys ?? Object.keys(subject)).filter((k) => subject[k] !== undefined);
  if (names.length === 0) throw new Error("transforms/dictionary: subject has none of the requested keys");
  const s = subject[names[0]].shape;
  for (const k of names) {
    const t = subject[k].shape;
    if (t[0] !== s[0] || t[1] !== s[1] || t[2] !== s[2]) {
      throw new Error(
        `transforms/dictionary: key "${k}" has shape [${t.join(", ")}] but "${names[0]}" has [${s.join(", ")}]`,
      );
    }
  }
  return s;
}

/**
 * Lift an array transform to a dictionary transform (MONAI `…d` twins): params are sampled
 * **once** (from the subject's common shape) and applied to every key, so image and label stay
 * aligned; `intensity` transforms skip images whose `kind` is `"label"` (TorchIO `LabelMap`).
 * Keys not listed are passed through untouched.
 *
 * @throws Error (at apply) when a key is missing and `allowMissingKeys` is false.
 */
export function dictionary<P>(t: Transform<Image3D, P>, options: DictionaryOptions): Transform<Subject, P> {
  const { keys, allowMissingKeys = false } = options;
  return {
    name: t.name,
    kind: t.kind,
    sample: (rng, shape) => t.sample(rng, shape),
    apply(subject, params) {
      const out: Record<string, Image3D> = { ...subject };
      for (const k of keys) {
        const img = subject[k];
        if (img === undefined) {
          if (allowMissingKeys) continue;
          throw new Error(`transforms/dictionary(${t.name}): subject has no key "${k}"`);
        }
        if (t.kind === "intensity" && img.kind === "label") continue;
        out[k] = t.apply(img, params);
      }
      return out;
    },
    inverse(subject, params) {
      const out: Record<string, Image3D> = { ...subject };
      for (const k of keys) {
        const img = subject[k];
        if (img === undefined || (t.kind === "intensity" && img.kind === "label")) continue;
        out[k] = invert(t, img, params);
      }
      return out;
    },
    outputShape: t.outputShape ? (shape, params) => t.outputShape!(shape, params) : undefined,
    history: t.history ? (params) => t.history!(params) : undefined,
  };
}
