export interface Point {
  ts: number;
  value: number;
}

const MAX_POINTS = 600;

/** A line chart of one numeric property on a canvas: points arrive in bulk or one at a time. */
export function lineChart(canvas: HTMLCanvasElement) {
  let points: Point[] = [];
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
    if (points.length === 0) {
      g.fillText("no values yet", 10, height / 2);
      return;
    }
    const pad = { left: 48, right: 10, top: 10, bottom: 22 };
    const t0 = points[0]!.ts;
    const t1 = Math.max(points.at(-1)!.ts, t0 + 1000);
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
    g.fillText(new Date(t0).toLocaleTimeString(), pad.left, height - 6);
    const end = new Date(t1).toLocaleTimeString();
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
    set(all: Point[]) {
      points = [...all].sort((a, b) => a.ts - b.ts).slice(-MAX_POINTS);
      draw();
    },
    add(point: Point) {
      points.push(point);
      if (points.length > MAX_POINTS) points.shift();
      draw();
    },
  };
}

const format = (v: number) => (Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(4)).toString());
