// The learning curve: each round's estimated F1 (over the whole dataset, from its labels) against
// the number of labels, with its 95% interval, drawn as inline SVG (no library). A session with
// classes draws its rounds' cross-validated accuracy instead (no interval).

const NS = "http://www.w3.org/2000/svg";
const W = 300;
const H = 170;
const M = { left: 46, right: 10, top: 10, bottom: 30 };

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Points {labeled, f1, low, high, round} of the rounds that have an estimated F1 (metric
 * "quality"), or {labeled, f1, round} of those with another metric (e.g. "accuracy"). */
export function curvePoints(rounds, metric = "quality") {
  if (metric !== "quality") {
    return rounds
      .filter((r) => r.metrics && typeof r.metrics[metric] === "number")
      .map((r) => ({ labeled: r.metrics.labeled, f1: r.metrics[metric], round: r.round }));
  }
  return rounds
    .filter((r) => r.metrics && r.metrics.quality && typeof r.metrics.quality.f1 === "number")
    .map((r) => {
      const q = r.metrics.quality;
      return { labeled: r.metrics.labeled, f1: q.f1, low: q.f1_low, high: q.f1_high, round: r.round };
    });
}

export function drawCurve(svg, rounds, { metric = "quality", label = "F1, estimated" } = {}) {
  const points = curvePoints(rounds, metric);
  const short = metric === "quality" ? "F1" : label;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  const summary = points.length
    ? `Learning curve: ${points.map((p) => `${p.labeled} labels ${short} ${p.f1.toFixed(2)}`).join("; ")}`
    : `Learning curve: no ${metric === "quality" ? "estimated F1" : label} yet`;
  svg.setAttribute("aria-label", summary);
  svg.append(svgEl("title", {}, summary));

  const maxX = Math.max(10, ...points.map((p) => p.labeled));
  // Zoom in on the range the points use (F1 near 1 would be a flat line on 0..1).
  const low = Math.min(...points.map((p) => p.low ?? p.f1), 0.95);
  const minY = points.length ? Math.max(0, Math.floor((low - 0.05) * 10) / 10) : 0;
  const x = (v) => M.left + (v / maxX) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - ((v - minY) / (1 - minY)) * (H - M.top - M.bottom);

  for (const v of [minY, (minY + 1) / 2, 1]) {
    svg.append(svgEl("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: "gridline" }));
    svg.append(svgEl("text", { x: M.left - 4, y: y(v) + 4, "text-anchor": "end", class: "tick" }, v.toFixed(2)));
  }
  // The "great" line: F1 0.95.
  svg.append(svgEl("line", { x1: M.left, x2: W - M.right, y1: y(0.95), y2: y(0.95), class: "target" }));
  svg.append(svgEl("text", { x: M.left + 3, y: y(0.95) + 11, class: "tick target-label" }, "0.95: great"));
  svg.append(svgEl("text", { x: M.left, y: H - 8, class: "tick" }, "0"));
  svg.append(svgEl("text", { x: W - M.right, y: H - 8, "text-anchor": "end", class: "tick" }, String(maxX)));
  svg.append(svgEl("text", { x: (M.left + W - M.right) / 2, y: H - 4, "text-anchor": "middle", class: "axis" },
    "labels"));
  svg.append(svgEl("text", { x: 10, y: (M.top + H - M.bottom) / 2, "text-anchor": "middle", class: "axis",
    transform: `rotate(-90 10 ${(M.top + H - M.bottom) / 2})` }, label));

  if (!points.length) {
    svg.append(svgEl("text", { x: (M.left + W) / 2, y: H / 2, "text-anchor": "middle", class: "note" },
      metric === "quality" ? "appears with 5 labels of each class" : "appears after a round"));
    return;
  }
  svg.append(svgEl("polyline", {
    points: points.map((p) => `${x(p.labeled).toFixed(1)},${y(p.f1).toFixed(1)}`).join(" "),
    class: "line",
  }));
  for (const p of points) {
    const dot = svgEl("circle", { cx: x(p.labeled), cy: y(p.f1), r: 3.5, class: "dot" });
    if (p.low === undefined) {
      dot.append(svgEl("title", {}, `round ${p.round}: ${p.labeled} labels, ${label} ${p.f1.toFixed(3)}`));
    } else {
      svg.append(svgEl("line", { x1: x(p.labeled), x2: x(p.labeled), y1: y(p.low), y2: y(p.high), class: "interval" }));
      const text = `${p.f1.toFixed(3)} (${p.low.toFixed(2)}–${p.high.toFixed(2)})`;
      dot.append(svgEl("title", {}, `round ${p.round}: ${p.labeled} labels, F1 estimated ${text}`));
    }
    svg.append(dot);
  }
}
