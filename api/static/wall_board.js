// The wall's pharmacy board (from /api/v1/pharmacies): a map of the pharmacies drawn from their
// lat,lon alone (an SVG projection, no tile server), coloured by open flags, with a scale bar; the
// pharmacies without a place beside it; the rankings by open flags and by swipes per visitor.
// Every value from the server is text: the DOM is built with createElement(NS) and textContent only.
window.RxWallBoard = (function () {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const KM_PER_DEG_LAT = 110.57, KM_PER_DEG_LON = 111.32;  // at the equator; times cos(latitude)
  const CHIPS = 8;  // pharmacies without a place named under the map (most open flags first), then a count
  const COLOURS = ["#9aa5ad", "#f2c94c", "#f2994a", "#d62828"];  // none, few, more, most open flags
  const svgEl = (tag, attrs, text) => {
    const node = document.createElementNS(SVG, tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, String(v)));
    if (text !== undefined) node.textContent = String(text);
    return node;
  };
  const { el, fill } = window.RxDom;
  const label = (t) => t.name || t.pharmacy_id;

  // open-flag classes: none, then the placed pharmacies with open flags in three about equal groups
  // (open flags pile up at a few pharmacies: equal steps would paint nearly all of them alike)
  const classes = (located) => {
    const open = located.map((t) => t.open_flags).filter((n) => n > 0).sort((a, b) => a - b);
    const most = open.length ? open[open.length - 1] : 0;
    const at = (q) => open[Math.min(open.length - 1, Math.floor(q * open.length))] || 1;
    const b1 = Math.max(1, at(1 / 3)), b2 = Math.max(b1 + 1, at(2 / 3));
    const ranges = [[0, 0], [1, b1], [b1 + 1, b2], [b2 + 1, Math.max(most, b2 + 1)]];
    const of = (n) => (n <= 0 ? 0 : n <= b1 ? 1 : n <= b2 ? 2 : 3);
    return { ranges, of, most };
  };
  const rangeText = ([a, b], last) => (last ? `≥ ${a}` : a === b ? String(a) : `${a}–${b}`);

  const legend = (node, cls) => {
    node.querySelectorAll(".swatch").forEach((s) => s.remove());
    cls.ranges.forEach((r, k) => {
      const item = el("span", null, "swatch");
      const dot = svgEl("svg", { width: 14, height: 14, "aria-hidden": "true" });
      dot.appendChild(svgEl("circle", { cx: 7, cy: 7, r: 6, fill: COLOURS[k] }));
      item.append(dot, " " + rangeText(r, k === 3));
      node.appendChild(item);
    });
  };

  // a round length for the scale bar: about a quarter of the map's width
  const niceKm = (km) => {
    const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500];
    return steps.filter((s) => s <= km).pop() || steps[0];
  };

  const drawMap = (svg, located, ranked, words) => {
    const box = svg.getBoundingClientRect(), W = Math.max(200, box.width), H = Math.max(150, box.height);
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.replaceChildren(svgEl("rect", { x: 0, y: 0, width: W, height: H, class: "map-bg" }));
    const cls = classes(located);
    if (!located.length) {
      svg.appendChild(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "map-empty" }, words.noPlace));
      return cls;
    }
    const lats = located.map((t) => t.lat), lons = located.map((t) => t.lon);
    const midLat = (Math.min(...lats) + Math.max(...lats)) / 2;
    const kx = KM_PER_DEG_LON * Math.cos(midLat * Math.PI / 180), ky = KM_PER_DEG_LAT;
    const minLon = Math.min(...lons), maxLat = Math.max(...lats);
    const spanX = Math.max(1, (Math.max(...lons) - minLon) * kx), spanY = Math.max(1, (maxLat - Math.min(...lats)) * ky);
    const pad = 28, bottom = 34;  // room for the marks at the edges and for the scale bar
    const s = Math.min((W - 2 * pad) / spanX, (H - pad - bottom) / spanY);  // pixels per km
    const ox = (W - spanX * s) / 2;
    const oy = pad + ((H - pad - bottom) - spanY * s) / 2;
    const dx = (Math.max(...lons) - minLon) * kx, dy = (maxLat - Math.min(...lats)) * ky;
    const x = (t) => ox + ((t.lon - minLon) * kx + (spanX - dx) / 2) * s;
    const y = (t) => oy + ((maxLat - t.lat) * ky + (spanY - dy) / 2) * s;
    const rank = new Map(ranked.map((t, k) => [t.pharmacy_id, k + 1]));
    // each district's name where its pharmacies are (when the map holds more than one district)
    const places = new Map();
    located.forEach((t) => {
      if (!t.district) return;
      const p = places.get(t.district) || { x: 0, y: 0, n: 0 };
      places.set(t.district, { x: p.x + x(t), y: p.y + y(t), n: p.n + 1 });
    });
    if (places.size > 1) {
      places.forEach((p, name) => svg.appendChild(svgEl("text", { x: (p.x / p.n).toFixed(1), y: (p.y / p.n).toFixed(1),
        "text-anchor": "middle", class: "district-name" }, name)));
    }
    // quiet ones first, so that the reddest marks lie on top
    located.slice().sort((a, b) => a.open_flags - b.open_flags).forEach((t) => {
      const k = cls.of(t.open_flags), n = rank.get(t.pharmacy_id);
      const g = svgEl("g", { class: `mark c${k}`, "data-pharmacy": t.pharmacy_id, "data-open": t.open_flags,
        transform: `translate(${x(t).toFixed(1)},${y(t).toFixed(1)})` });
      const r = Math.max(n ? 10 : 0, 5 + 3.5 * k);  // the class decides the size; a ranked mark fits its number
      g.appendChild(svgEl("title", {}, `${label(t)} (${t.pharmacy_id}) · ${t.district || words.noDistrict}\n`
        + fill(words.openOf, { open: t.open_flags, all: t.flags })));
      g.appendChild(svgEl("circle", { r, fill: COLOURS[k] }));
      if (n) g.appendChild(svgEl("text", { "text-anchor": "middle", dy: "0.35em", class: "rank-no" }, n));
      svg.appendChild(g);
    });
    // scale bar (bottom left) and north (top right)
    const km = niceKm(W / s / 4), len = km * s, sy = H - 14;
    const bar = svgEl("g", { class: "scale" });
    bar.append(svgEl("path", { d: `M12 ${sy - 5} V${sy} H${12 + len} V${sy - 5}` }),
      svgEl("text", { x: 12 + len + 6, y: sy, class: "scale-text" }, fill(words.km, { n: km })));
    svg.appendChild(bar);
    const north = svgEl("g", { class: "north", transform: `translate(${W - 18},10)` });
    north.append(svgEl("path", { d: "M0 0 L6 16 L0 12 L-6 16 Z" }),
      svgEl("text", { y: 30, "text-anchor": "middle" }, words.north));
    svg.appendChild(north);
    return cls;
  };

  // named as chips (most open flags first) while they fit the room under the map, then "and N more";
  // with no placed pharmacy at all, the list takes the map's room
  const unlocatedList = (aside, list, total, words, alone) => {
    aside.hidden = !total;
    aside.classList.toggle("alone", alone);
    aside.querySelector("#unlocated-n").textContent = String(total);
    const ul = aside.querySelector("ul"), chips = list.slice(0, alone ? list.length : CHIPS).map((t) => {
      const li = el("li", null);
      li.dataset.pharmacy = t.pharmacy_id;
      li.append(el("span", label(t), "rk-name"), el("span", String(t.open_flags), "n"));
      li.title = `${label(t)} (${t.pharmacy_id}) · ${t.district || words.noDistrict}\n`
        + fill(words.openOf, { open: t.open_flags, all: t.flags });
      return li;
    });
    const more = el("li", null, "muted");
    const show = (n) => {
      ul.replaceChildren(...chips.slice(0, n));
      more.textContent = fill(words.more, { n: total - n });
      if (total > n) ul.appendChild(more);
    };
    let n = chips.length;
    show(n);
    while (n > 0 && aside.scrollHeight > aside.clientHeight + 1) show(--n);
  };

  // one ranking: position, pharmacy (name, id, district), a bar of the value against the first one
  const ranking = (ol, rows, value, detail, words, districts) => {
    const top = Math.max(...rows.map((r) => value(r) ?? Infinity).filter(Number.isFinite), 1);
    ol.replaceChildren(...rows.map((t) => {
      const li = el("li");
      li.dataset.pharmacy = t.pharmacy_id;
      const who = el("span", null, "rk-name");
      who.append(el("strong", label(t)));
      if (districts > 1) who.append(" ", el("small", t.district || words.noDistrict));
      const v = value(t), bar = el("span", null, "bar"), fillBar = el("span");
      fillBar.style.width = `${v === null ? 100 : Math.max(2, Math.round(100 * v / top))}%`;
      if (v === null) fillBar.className = "inf";
      bar.appendChild(fillBar);
      li.append(who, bar, el("span", v === null ? words.noVisitor : String(detail.value(t)), "n"));
      li.title = `${label(t)} (${t.pharmacy_id}) · ${t.district || words.noDistrict}\n${detail.title(t)}`;
      return li;
    }));
    if (!rows.length) ol.appendChild(el("li", words.none, "muted"));
  };

  const render = (board, words) => {
    // the list beside the map first: it takes its room before the map is fitted to what is left
    unlocatedList(document.getElementById("unlocated"), board.unlocated, board.unlocated_total, words,
      !board.located.length);
    const cls = drawMap(document.getElementById("map"), board.located, board.by_open_flags, words);
    const key = document.getElementById("legend");
    key.hidden = !board.located.length;
    legend(key, cls);
    document.getElementById("map-count").textContent = fill(words.onMap, { n: board.located.length });
    const districts = new Set([...board.located, ...board.unlocated].map((t) => t.district)).size;
    const openOf = (t) => fill(words.openOf, { open: t.open_flags, all: t.flags });
    const swipes = (t) => fill(words.swipesVisitors, { swipes: t.verified_settlements, visitors: t.visitors });
    ranking(document.getElementById("rank-open"), board.by_open_flags, (t) => t.open_flags,
      { value: (t) => t.open_flags, title: openOf }, words, districts);
    ranking(document.getElementById("rank-ratio"), board.by_swipes_per_visitor, (t) => t.swipes_per_visitor,
      { value: (t) => t.swipes_per_visitor.toFixed(2), title: swipes }, words, districts);
  };
  return { render };
})();
