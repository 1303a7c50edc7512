import { el } from "./dom";

export interface Point {
  ts: number;
  value: number;
}

/** The time axis, ms: the range asked for, so a range with few values still reads as that range. */
export interface Span {
  from: number;
  to: number;
}

export interface Series {
  property: string;
  points: Point[];
}

const MAX_POINTS = 600;
const DAY = 86_400_000;

/** A line chart of one numeric property on a canvas: points arrive in bulk or one at a time. */
function lineChart(canvas: HTMLCanvasElement, name: string) {
  let points: Point[] = [];
  let span: Span | null = null;
  const draw = () => {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || canvas.width;
    const height = canvas.clientHeight || canvas.height;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    const g = canvas.getContext("2d")!;
    g.scale(ratio, ratio);
    g.clearRect(0, 0, width, height);
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = "#6b7385";
    // A canvas is an image to a screen reader: it reads this instead.
    canvas.setAttribute("aria-label", describe(name, points));
    if (points.length === 0) {
      g.fillText("no values", 10, height / 2);
      return;
    }
    const pad = { left: 48, right: 10, top: 10, bottom: 22 };
    const t0 = Math.min(points[0]!.ts, span?.from ?? Number.POSITIVE_INFINITY);
    const t1 = Math.max(points.at(-1)!.ts, span?.to ?? 0, t0 + 1000);
    let lo = Math.min(...points.map((p) => p.value));
    let hi = Math.max(...points.map((p) => p.value));
    if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
    const x = (ts: number) => pad.left + ((ts - t0) / (t1 - t0)) * (width - pad.left - pad.right);
    const y = (v: number) => pad.top + (1 - (v - lo) / (hi - lo)) * (height - pad.top - pad.bottom);
    g.strokeStyle = "#e3e6ec";
    g.beginPath();
    g.moveTo(pad.left, pad.top);
    g.lineTo(pad.left, height - pad.bottom);
    g.lineTo(width - pad.right, height - pad.bottom);
    g.stroke();
    g.fillText(format(hi), 4, pad.top + 8);
    g.fillText(format(lo), 4, height - pad.bottom);
    // Over more than a day a time alone is ambiguous: the ends carry their date.
    const time = (ts: number) =>
      t1 - t0 > DAY
        ? new Date(ts).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })
        : new Date(ts).toLocaleTimeString();
    g.fillText(time(t0), pad.left, height - 6);
    const end = time(t1);
    g.fillText(end, width - pad.right - g.measureText(end).width, height - 6);
    g.strokeStyle = "#2f6fde";
    g.lineWidth = 1.5;
    g.beginPath();
    for (const [i, p] of points.entries()) {
      if (i === 0) g.moveTo(x(p.ts), y(p.value));
      else g.lineTo(x(p.ts), y(p.value));
    }
    g.stroke();
    const last = points.at(-1)!;
    g.fillStyle = "#2f6fde";
    g.beginPath();
    g.arc(x(last.ts), y(last.value), 3, 0, Math.PI * 2);
    g.fill();
  };
  return {
    set(all: Point[], over: Span | null) {
      points = [...all].sort((a, b) => a.ts - b.ts).slice(-MAX_POINTS);
      span = over;
      draw();
    },
    add(point: Point) {
      points.push(point);
      if (points.length > MAX_POINTS) points.shift();
      draw();
    },
  };
}

/**
 * The device's numeric properties, one small chart each over the same time axis, each on its own
 * scale: one axis for all would flatten a humidity in % beside a temperature in °C.
 */
export function seriesCharts(container: HTMLElement) {
  const charts = new Map<string, ReturnType<typeof lineChart>>();
  return {
    set(series: Series[], span: Span | null) {
      charts.clear();
      const canvases = series.map(() => el("canvas", { role: "img", height: "100" }));
      container.replaceChildren(...series.map(({ property }, i) => el("figure", {}, [el("figcaption", { class: "mono" }, [property]), canvases[i]!])));
      // Drawn once in the page: a canvas sizes itself from its laid-out width.
      for (const [i, { property, points }] of series.entries()) {
        const chart = lineChart(canvases[i]!, property);
        chart.set(points, span);
        charts.set(property, chart);
      }
    },
    add(property: string, point: Point) {
      charts.get(property)?.add(point);
    },
  };
}

const format = (v: number) => (Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(4)).toString());

function describe(name: string, points: Point[]): string {
  if (points.length === 0) return `${name}: no values`;
  const values = points.map((p) => p.value);
  return `${name}: ${points.length} values from ${format(Math.min(...values))} to ${format(Math.max(...values))}, last ${format(points.at(-1)!.value)}`;
}
