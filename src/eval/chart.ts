import sharp from "sharp";
import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** One line of a chart: its points in drawing order, each with a text label beside it. */
export interface LineSeries {
  name: string;
  points: { x: number; y: number; label: string }[];
}

export interface LineChart {
  title: string;
  xTitle: string;
  yTitle: string;
  legendTitle: string;
  series: LineSeries[];
}

const WIDTH = 520;
const HEIGHT = 340;
// Label boxes, in pixels, as DejaVu Sans draws 10 px digits; a point marker's radius.
const CHAR_W = 6.4;
const LABEL_H = 11;
const POINT_R = 4;

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function extent(v: number[]): [number, number] {
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.05 || 0.5;
  return [lo - pad, hi + pad];
}

const overlap = (a: Box, b: Box) => Math.max(0, Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0)) * Math.max(0, Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0));
const box = (cx: number, cy: number, w: number, h: number): Box => ({ x0: cx - w / 2, y0: cy - h / 2, x1: cx + w / 2, y1: cy + h / 2 });

/**
 * Places each label at the first spot around its point (above, below, right, left, then the
 * diagonals) that covers no point, no label placed before and nothing outside the plot; where every
 * spot does, at the one that covers least. Vega's own label transform needs a canvas, which Node lacks.
 */
function placeLabels(points: { px: number; py: number; label: string }[]): { cx: number; cy: number }[] {
  const taken: Box[] = points.map((p) => box(p.px, p.py, 2 * POINT_R, 2 * POINT_R));
  const plot: Box = { x0: 0, y0: 0, x1: WIDTH, y1: HEIGHT };
  return points.map((p) => {
    const w = p.label.length * CHAR_W;
    const [ax, ay] = [POINT_R + 2 + w / 2, POINT_R + 2 + LABEL_H / 2];
    const spots = [
      [0, -ay],
      [0, ay],
      [ax, 0],
      [-ax, 0],
      [ax, -ay],
      [ax, ay],
      [-ax, -ay],
      [-ax, ay],
    ];
    let best = { cost: Infinity, b: box(p.px, p.py - ay, w, LABEL_H) };
    for (const [dx, dy] of spots) {
      const b = box(p.px + dx, p.py + dy, w, LABEL_H);
      const cost = taken.reduce((s, t) => s + overlap(b, t), 0) + (w * LABEL_H - overlap(b, plot));
      if (cost < best.cost) best = { cost, b };
      if (cost === 0) break;
    }
    taken.push(best.b);
    return { cx: (best.b.x0 + best.b.x1) / 2, cy: (best.b.y0 + best.b.y1) / 2 };
  });
}

/** A line chart with labelled points as SVG, rendered headlessly by Vega-Lite (no browser, no canvas). */
export async function lineChartSvg(c: LineChart): Promise<string> {
  const points = c.series.flatMap((s) =>
    s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).map((p, order) => ({ series: s.name, order, ...p })),
  );
  // Fixed domains map data to pixels exactly, so that the labels can be placed here.
  const xDomain = extent(points.map((p) => p.x));
  const yDomain = extent(points.map((p) => p.y));
  const px = (x: number) => ((x - xDomain[0]) / (xDomain[1] - xDomain[0])) * WIDTH;
  const py = (y: number) => HEIGHT - ((y - yDomain[0]) / (yDomain[1] - yDomain[0])) * HEIGHT;
  const places = placeLabels(points.map((p) => ({ px: px(p.x), py: py(p.y), label: p.label })));
  const values = points.map((p, i) => ({
    ...p,
    labelX: xDomain[0] + (places[i].cx / WIDTH) * (xDomain[1] - xDomain[0]),
    labelY: yDomain[0] + ((HEIGHT - places[i].cy) / HEIGHT) * (yDomain[1] - yDomain[0]),
  }));
  const spec: TopLevelSpec = {
    width: WIDTH,
    height: HEIGHT,
    background: "white",
    padding: 12,
    title: c.title,
    data: { values },
    encoding: {
      // The colour domain keeps the legend and colours in the order the series were given.
      color: { field: "series", type: "nominal", title: c.legendTitle, scale: { domain: c.series.map((s) => s.name) } },
    },
    layer: [
      {
        mark: { type: "line", point: { size: 40 } },
        encoding: {
          x: { field: "x", type: "quantitative", title: c.xTitle, scale: { domain: xDomain, nice: false, zero: false } },
          y: { field: "y", type: "quantitative", title: c.yTitle, scale: { domain: yDomain, nice: false, zero: false } },
          order: { field: "order", type: "quantitative" },
        },
      },
      {
        mark: { type: "text", fontSize: 10, align: "center", baseline: "middle" },
        encoding: { x: { field: "labelX", type: "quantitative" }, y: { field: "labelY", type: "quantitative" }, text: { field: "label", type: "nominal" } },
      },
    ],
  };
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG document to PNG (librsvg through sharp). */
export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).flatten({ background: "#ffffff" }).png().toBuffer();
}
