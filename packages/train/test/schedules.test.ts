import { describe, expect, it } from "vitest";
import {
  EarlyStopping,
  type EpochLog,
  ReduceLROnPlateau,
  SGD,
  StepLR,
  type StopReason,
  type TrainContext,
} from "../src/index.js";

function ctx(lr = 1) {
  const stops: StopReason[] = [];
  const c = {
    optimizer: new SGD({ lr }),
    epochs: 100,
    startEpoch: 0,
    history: [],
    stop: (r: StopReason) => stops.push(r),
  } as unknown as TrainContext;
  return { c, stops };
}
const log = (epoch: number, valLoss: number): EpochLog => ({
  epoch,
  trainLoss: valLoss,
  valLoss,
  metrics: {},
  lr: 0,
  seconds: 0,
  steps: 1,
});

describe("StepLR", () => {
  it("lr = lr0·0.5^⌊epoch/40⌋ by default", () => {
    const { c } = ctx(1);
    const s = new StepLR();
    s.onTrainStart(c);
    const seen = [0, 39, 40, 79, 80, 120].map((e) => {
      s.onEpochStart(c, e);
      return c.optimizer.lr;
    });
    expect(seen).toEqual([1, 1, 0.5, 0.5, 0.25, 0.125]);
  });
  it("keeps its base lr across a state round trip", () => {
    const { c } = ctx(0.8);
    const s = new StepLR({ stepSize: 2, gamma: 0.1 });
    s.onTrainStart(c);
    s.onEpochStart(c, 3);
    const s2 = new StepLR({ stepSize: 2, gamma: 0.1 });
    s2.setState(s.getState());
    s2.onTrainStart(c); // lr is already decayed; base must come from the state
    s2.onEpochStart(c, 4);
    expect(c.optimizer.lr).toBeCloseTo(0.8 * 0.01, 12);
  });
});

describe("ReduceLROnPlateau (Keras semantics)", () => {
  it("halves after `patience` epochs without an improvement > minDelta, floors at minLr", () => {
    const r = new ReduceLROnPlateau({ factor: 0.5, patience: 2, minDelta: 1e-4, minLr: 0.2 });
    const { c } = ctx(1);
    // improvement of 5e-5 is below minDelta: not an improvement
    const losses = [1.0, 0.99995, 0.9999, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
    const lrs = losses.map((l, e) => {
      r.onEpochEnd(c, log(e, l));
      return c.optimizer.lr;
    });
    // e0 best=1; e1 wait1; e2 wait2 → lr .5; e3 best .5; e4 w1; e5 w2 → .25; e6 w1; e7 w2 → max(.125,.2)=.2; e8 w1; e9 w2 but lr == minLr → stays
    expect(lrs).toEqual([1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2]);
  });
  it("cooldown suspends counting", () => {
    const r = new ReduceLROnPlateau({ patience: 1, cooldown: 2, minLr: 0 });
    const { c } = ctx(1);
    const lrs = [1, 1, 1, 1, 1].map((l, e) => {
      r.onEpochEnd(c, log(e, l));
      return c.optimizer.lr;
    });
    // e0 best; e1 wait→1 ≥ 1 → .5, cooldown 2; e2 cooldown→1; e3 cooldown→0, then wait→1 → .25; e4 cooldown 2→1
    expect(lrs).toEqual([1, 0.5, 0.5, 0.25, 0.25]);
  });
  it("state round trip", () => {
    const a = new ReduceLROnPlateau({ patience: 3 });
    const { c } = ctx(1);
    a.onEpochEnd(c, log(0, 1));
    a.onEpochEnd(c, log(1, 1));
    const b = new ReduceLROnPlateau({ patience: 3 });
    b.setState(JSON.parse(JSON.stringify(a.getState())));
    b.onEpochEnd(c, log(2, 1));
    b.onEpochEnd(c, log(3, 1));
    expect(c.optimizer.lr).toBe(0.5);
  });
});

describe("EarlyStopping", () => {
  it("stops after `patience` epochs without strict improvement", () => {
    const e = new EarlyStopping({ patience: 3 });
    const { c, stops } = ctx();
    [1, 0.9, 0.9, 0.95, 0.91].forEach((l, i) => {
      e.onEpochEnd(c, log(i, l));
    });
    expect(stops).toEqual(["early-stopping"]);
    expect(e.epochsWithoutImprovement).toBe(3);
  });
  it("resets the count on improvement and survives a state round trip", () => {
    const e = new EarlyStopping({ patience: 2 });
    const { c, stops } = ctx();
    e.onEpochEnd(c, log(0, 1));
    e.onEpochEnd(c, log(1, 1.1));
    const e2 = new EarlyStopping({ patience: 2 });
    e2.setState(JSON.parse(JSON.stringify(e.getState())));
    e2.onEpochEnd(c, log(2, 0.5));
    e2.onEpochEnd(c, log(3, 0.6));
    expect(stops).toEqual([]);
    e2.onEpochEnd(c, log(4, 0.7));
    expect(stops).toEqual(["early-stopping"]);
  });
});
