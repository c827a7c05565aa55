// @vitest-environment node
import { describe, expect, it } from "vitest";
import {
  compose,
  createTransform,
  dictionary,
  type Image3D,
  intensityScaleShift,
  oneOf,
  Rng,
  randFlip,
  randRot90,
  registeredTransforms,
  registerTransform,
  replay,
  run,
  type Shape3,
  type Subject,
  type Transform,
  withProb,
} from "../src/index.js";

const shape: Shape3 = [4, 3, 2];
const ramp = (): Image3D<Float32Array> => ({
  data: Float32Array.from({ length: 24 }, (_, i) => i / 24),
  shape,
});

/** A transform that records which value it drew (to test the combinators). */
function tag(name: string): Transform<Image3D, number> {
  return {
    name,
    kind: "intensity",
    sample: (rng) => rng.random(),
    apply: (x, p) => ({ ...x, data: Float32Array.from(x.data as Float32Array, (v) => v + p) }),
  };
}

describe("combinators", () => {
  it("withProb applies at the configured rate and records only applied transforms", () => {
    const t = withProb(0.3, tag("a"));
    const rng = new Rng(1);
    let applied = 0;
    const n = 10000;
    for (let i = 0; i < n; i++) {
      const p = t.sample(rng, shape);
      if (p.applied) {
        applied++;
        expect(t.history!(p)).toEqual([{ name: "a", params: p.params }]);
      } else expect(t.history!(p)).toEqual([]);
    }
    expect(Math.abs(applied / n - 0.3)).toBeLessThan(3 * Math.sqrt((0.3 * 0.7) / n));
    expect(() => withProb(1.5, tag("a"))).toThrow(/\[0, 1\]/);
  });

  it("oneOf picks members in proportion to their weights", () => {
    const t = oneOf([
      [0.2, tag("in")],
      [0.8, tag("out")],
    ]);
    const rng = new Rng(2);
    const n = 10000;
    let first = 0;
    for (let i = 0; i < n; i++) if (t.sample(rng, shape).index === 0) first++;
    expect(Math.abs(first / n - 0.2)).toBeLessThan(3 * Math.sqrt((0.2 * 0.8) / n));
    expect(() => oneOf([])).toThrow(/at least one/);
  });

  it("compose: one seed reproduces the pipeline; members draw from forked child streams", () => {
    const t = compose([tag("a"), withProb(0.5, tag("b")), tag("c")]);
    const r1 = run(t, ramp(), shape, new Rng(9));
    const r2 = run(t, ramp(), shape, new Rng(9));
    expect(r1.params).toEqual(r2.params);
    expect(r1.output.data).toEqual(r2.output.data);
    // member 0 used the first child stream of Rng(9)
    const parent = new Rng(9);
    expect(r1.params[0]).toBe(parent.fork().random());
    // the history flattens to the applied leaves in order
    expect(r1.history.map((h) => h.name)).toEqual(
      (r1.params[1] as { applied: boolean }).applied ? ["a", "b", "c"] : ["a", "c"],
    );
  });

  it("compose tracks shapes through shape-changing members", () => {
    const t = compose<Image3D>([randRot90({ prob: 1 }), randRot90({ prob: 1 })]);
    const img = ramp();
    const r = run(t, img, img.shape, new Rng(3));
    expect(r.output.shape).toEqual(t.outputShape!(img.shape, r.params));
  });
});

describe("dictionary transforms", () => {
  const subject = (): Subject => ({
    image: ramp(),
    label: { data: Uint8Array.from({ length: 24 }, (_, i) => i % 2), shape, kind: "label" },
  });

  it("spatial params are drawn once and applied to every key (image and label stay aligned)", () => {
    const t = dictionary(randFlip({ prob: 0.5 }), { keys: ["image", "label"] });
    for (let seed = 0; seed < 20; seed++) {
      const s = subject();
      const { output, params } = run(t, s, shape, new Rng(seed));
      const f = randFlip();
      expect(output.image.data).toEqual(f.apply(s.image, params).data);
      expect(output.label.data).toEqual(f.apply(s.label, params).data);
      expect(output.label.data).toBeInstanceOf(Uint8Array);
    }
  });

  it("intensity transforms skip label images", () => {
    const t = dictionary(intensityScaleShift({ scale: [2, 2], shift: [0.5, 0.5] }), {
      keys: ["image", "label"],
    });
    const s = subject();
    const { output } = run(t, s, shape, new Rng(1));
    expect(output.label).toBe(s.label);
    expect(Array.from(output.image.data.slice(0, 3))).toEqual(
      [0.5, 0.5 + 2 / 24, 0.5 + 4 / 24].map(Math.fround),
    );
  });

  it("inverting a recorded pipeline maps outputs back (spatial undone, intensity skipped)", () => {
    const sh: Shape3 = [5, 3, 4];
    const img: Image3D<Float32Array> = { data: Float32Array.from({ length: 60 }, (_, i) => i), shape: sh };
    const lab: Image3D<Uint8Array> = {
      data: Uint8Array.from({ length: 60 }, (_, i) => i % 7),
      shape: sh,
      kind: "label",
    };
    const pipeline = compose<Subject>([
      dictionary(randFlip(), { keys: ["image", "label"] }),
      dictionary(randRot90({ prob: 1 }), { keys: ["image", "label"] }),
      dictionary(intensityScaleShift({ scale: [2, 2], shift: [0, 0] }), { keys: ["image", "label"] }),
    ]);
    for (let seed = 0; seed < 10; seed++) {
      const r = run(pipeline, { image: img, label: lab }, sh, new Rng(seed));
      const back = pipeline.inverse!(r.output, r.params);
      expect(back.label.shape).toEqual(sh);
      expect(back.label.data).toEqual(lab.data);
      expect(Array.from(back.image.data)).toEqual(Array.from(img.data, (v) => 2 * v));
    }
  });

  it("missing keys throw unless allowed", () => {
    const t = dictionary(randFlip(), { keys: ["image", "mask"] });
    expect(() => t.apply(subject(), { axes: [true, false, false] })).toThrow(/no key "mask"/);
    const u = dictionary(randFlip(), { keys: ["image", "mask"], allowMissingKeys: true });
    expect(u.apply(subject(), { axes: [true, false, false] }).mask).toBeUndefined();
  });
});

describe("registry and replay", () => {
  it("every built-in is registered and a recorded history replays to the same output", () => {
    expect(registeredTransforms()).toEqual(
      expect.arrayContaining([
        "genesisFlip",
        "localPixelShuffle",
        "nonlinearIntensity",
        "inPaint",
        "outPaint",
        "randFlip",
      ]),
    );
    const img: Image3D<Float32Array> = {
      data: Float32Array.from({ length: 16 * 16 * 16 }, (_, i) => (i % 97) / 97),
      shape: [16, 16, 16],
    };
    const pipeline = compose(
      ["genesisFlip", "localPixelShuffle", "nonlinearIntensity", "outPaint"].map((n) => createTransform(n)),
    );
    const r = run(pipeline, img, img.shape, new Rng(4));
    let x: Image3D = img;
    for (const h of r.history) x = replay(x, h);
    expect(x.data).toEqual(r.output.data);
  });

  it("rejects unknown and duplicate names", () => {
    expect(() => createTransform("nope")).toThrow(/unknown transform "nope"/);
    expect(() => registerTransform("randFlip", randFlip)).toThrow(/already registered/);
  });
});
