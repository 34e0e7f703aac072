// dashboard_probe.js: run in the hub's dashboard by page_probe.py (for
// dashboard_figures.sh). Waits for the page's own signal that it rendered
// the hub's data (body data-ready), then reports as JSON:
//   figures  every element with a data-k: its data-v and the text it shows
//   labels   the no-visit chart's milestone labels: text and getBBox
//   lines    its data lines (polyline points) and milestone diamonds
//   hits     each label whose box meets a line, a diamond or another label
//   bars     after a click on the Training time tab: each division's bar,
//            whether it says it is cut, and the text beside it
//   shot     the two charts' region, for page_probe.py's screenshot
async () => {
  if (document.body.dataset.ready !== "1")
    await new Promise((done) => {
      const seen = new MutationObserver(() => {
        if (document.body.dataset.ready === "1") { seen.disconnect(); done(); }
      });
      seen.observe(document.body, {attributes: true, attributeFilter: ["data-ready"]});
    });
  const out = {figures: {}, labels: [], lines: [], diamonds: [], hits: [], bars: []};
  const firstText = (e) => {
    for (const n of e.childNodes) if (n.nodeType === Node.TEXT_NODE && n.textContent.trim()) return n.textContent.trim();
    return e.textContent.trim();
  };
  for (const e of document.querySelectorAll("[data-k]"))
    out.figures[e.dataset.k] = {v: e.dataset.v === undefined ? null : e.dataset.v, text: firstText(e)};

  // the no-visit chart: labels against lines, diamonds and each other
  const series = document.getElementById("series");
  const box = (b, pad) => ({x0: b.x - pad, y0: b.y - pad, x1: b.x + b.width + pad, y1: b.y + b.height + pad});
  // does segment p-q meet box b (Liang-Barsky clipping)?
  const meets = (p, q, b) => {
    let t0 = 0, t1 = 1;
    const dx = q.x - p.x, dy = q.y - p.y;
    for (const [d, room] of [[-dx, p.x - b.x0], [dx, b.x1 - p.x], [-dy, p.y - b.y0], [dy, b.y1 - p.y]]) {
      if (d === 0) { if (room < 0) return false; continue; }
      const r = room / d;
      if (d < 0) { if (r > t1) return false; t0 = Math.max(t0, r); } else { if (r < t0) return false; t1 = Math.min(t1, r); }
    }
    return true;
  };
  const overlap = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
  // milestone labels: texts that name a date after "by" (the page's own class may change)
  const labels = [...series.querySelectorAll("text")].filter((t) => /\bby \d{4}-\d{2}-\d{2}$/.test(t.textContent));
  for (const t of labels) {
    const b = t.getBBox();
    out.labels.push({text: t.textContent, x: b.x, y: b.y, width: b.width, height: b.height});
  }
  for (const pl of series.querySelectorAll("polyline"))
    out.lines.push([...pl.points].map((p) => ({x: p.x, y: p.y})));
  for (const d of series.querySelectorAll("path")) {
    const b = d.getBBox();
    out.diamonds.push({x: b.x, y: b.y, width: b.width, height: b.height});
  }
  out.labels.forEach((l, i) => {
    const lb = box(l, 0);
    // a line is 2 wide and its points are dots of radius 2.5
    const near = box(l, 2.5);
    out.lines.forEach((pts, k) => {
      if (pts.length === 1 && meets(pts[0], pts[0], near)) out.hits.push(`"${l.text}" covers the lone point of line ${k}`);
      for (let j = 1; j < pts.length; j++)
        if (meets(pts[j - 1], pts[j], near)) {
          out.hits.push(`"${l.text}" crosses line ${k} between (${pts[j - 1].x},${pts[j - 1].y}) and (${pts[j].x},${pts[j].y})`);
          break;
        }
    });
    for (const d of out.diamonds) if (overlap(lb, box(d, 0))) out.hits.push(`"${l.text}" covers a milestone diamond at (${d.x},${d.y})`);
    out.labels.forEach((m, j) => { if (j > i && overlap(lb, box(m, 0))) out.hits.push(`"${l.text}" overlaps "${m.text}"`); });
    const vb = series.viewBox.baseVal;
    if (l.x < vb.x || l.y < vb.y || l.x + l.width > vb.x + vb.width || l.y + l.height > vb.y + vb.height)
      out.hits.push(`"${l.text}" runs out of the chart`);
  });

  // the division chart on the Training time tab (render() is synchronous)
  const tab = [...document.querySelectorAll("#tabs button")].find((b) => b.textContent === "Training time");
  if (tab) tab.click();
  const chart = document.getElementById("divchart");
  for (const r of chart.querySelectorAll("rect[data-k]")) {
    const label = chart.querySelector(`text[data-label-for="${r.dataset.k}"]`);
    const title = r.querySelector("title");
    out.bars.push({k: r.dataset.k, v: r.dataset.v, width: r.width.baseVal.value, capped: r.dataset.capped === "1",
                   label: label ? label.textContent : null, title: title ? title.textContent : null});
  }
  out.chartText = chart.textContent;
  const cards = document.querySelector("section.row.two").getBoundingClientRect();
  out.shot = {x: cards.x + window.scrollX, y: cards.y + window.scrollY, width: cards.width, height: cards.height};
  return out;
}
