import type { EpochLog } from "./callback.js";

/** A horizontal reference line on the loss plot (e.g. the identity and constant baselines). */
export interface Baseline {
  label: string;
  value: number;
}

/** Options of {@link lossCurveSvg}. */
export interface LossCurveOptions {
  title?: string;
  baselines?: Baseline[];
  /** Log-scale y axis. Default false. */
  logY?: boolean;
  width?: number;
  height?: number;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1000 || a < 1e-3 ? v.toExponential(1) : Number(v.toPrecision(3)).toString();
}

/**
 * A self-contained SVG line chart of training and validation loss per epoch, with optional
 * horizontal baselines (dashed). Epochs on x (1-based in labels), loss on y.
 * @returns the SVG document as a string
 */
export function lossCurveSvg(history: readonly EpochLog[], opts: LossCurveOptions = {}): string {
  const W = opts.width ?? 720;
  const H = opts.height ?? 420;
  const m = { l: 70, r: 170, t: 40, b: 50 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const series: Array<{ label: string; color: string; pts: Array<[number, number]> }> = [
    {
      label: "train loss",
      color: "#1f77b4",
      pts: history.map((h): [number, number] => [h.epoch + 1, h.trainLoss]),
    },
    {
      label: "validation loss",
      color: "#d62728",
      pts: history
        .filter((h) => h.valLoss !== undefined)
        .map((h): [number, number] => [h.epoch + 1, h.valLoss as number]),
    },
  ].filter((s) => s.pts.length > 0);
  const baselines = (opts.baselines ?? []).filter((b) => Number.isFinite(b.value));
  const ys = [...series.flatMap((s) => s.pts.map((p) => p[1])), ...baselines.map((b) => b.value)].filter(
    (v) => Number.isFinite(v) && (!opts.logY || v > 0),
  );
  const tr = (v: number) => (opts.logY ? Math.log10(v) : v);
  let y0 = ys.length ? Math.min(...ys.map(tr)) : 0;
  let y1 = ys.length ? Math.max(...ys.map(tr)) : 1;
  if (y1 - y0 < 1e-12) {
    y0 -= 0.5;
    y1 += 0.5;
  } else if (!opts.logY) {
    const pad = (y1 - y0) * 0.05;
    y0 = Math.max(0, y0 - pad);
    y1 += pad;
  }
  const x0 = 1;
  const x1 = Math.max(2, history.length ? history[history.length - 1].epoch + 1 : 2);
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const Y = (y: number) => m.t + ph - ((tr(y) - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (opts.title) out.push(`<text x="${m.l}" y="24" font-size="15">${esc(opts.title)}</text>`);
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  for (let k = 0; k <= 5; k++) {
    const yv = y0 + ((y1 - y0) * k) / 5;
    const py = m.t + ph - (ph * k) / 5;
    const label = opts.logY ? fmt(10 ** yv) : fmt(yv);
    out.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${py.toFixed(1)}" y2="${py.toFixed(1)}" stroke="#ddd"/>`,
    );
    out.push(`<text x="${m.l - 6}" y="${(py + 4).toFixed(1)}" text-anchor="end">${label}</text>`);
  }
  const xt = Math.min(10, x1 - x0);
  for (let k = 0; k <= xt; k++) {
    const xv = Math.round(x0 + ((x1 - x0) * k) / xt);
    out.push(`<text x="${X(xv).toFixed(1)}" y="${m.t + ph + 18}" text-anchor="middle">${xv}</text>`);
  }
  out.push(`<text x="${m.l + pw / 2}" y="${H - 10}" text-anchor="middle">epoch</text>`);
  out.push(
    `<text x="16" y="${m.t + ph / 2}" transform="rotate(-90 16 ${m.t + ph / 2})" text-anchor="middle">loss${opts.logY ? " (log)" : ""}</text>`,
  );
  const legend: Array<[string, string, boolean]> = [];
  const dashColors = ["#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
  baselines.forEach((b, i) => {
    const c = dashColors[i % dashColors.length];
    const py = Y(b.value).toFixed(1);
    out.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${py}" y2="${py}" stroke="${c}" stroke-dasharray="6 4"/>`,
    );
    legend.push([`${b.label} (${fmt(b.value)})`, c, true]);
  });
  for (const s of series) {
    const d = s.pts
      .filter((p) => Number.isFinite(p[1]) && (!opts.logY || p[1] > 0))
      .map((p, i) => `${i ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`)
      .join(" ");
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    legend.push([s.label, s.color, false]);
  }
  legend.forEach(([label, c, dashed], i) => {
    const ly = m.t + 10 + i * 20;
    out.push(
      `<line x1="${m.l + pw + 12}" x2="${m.l + pw + 36}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"${dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
    );
    out.push(`<text x="${m.l + pw + 42}" y="${ly + 4}">${esc(label)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
