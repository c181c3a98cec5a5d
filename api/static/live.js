// A pharmacy's live view: each counter's latest picture (the recorder's snapshot, fetched every 2 s), its
// camera tile, and the live settlements as they arrive with their flags (read every 2 s, and at once when
// the event stream brings a flag of this pharmacy). Every value from the server is text: the DOM is
// built with createElement and textContent only.
(function () {
  "use strict";
  const root = document.getElementById("liveview"), words = root.dataset;
  const pharmacy = words.pharmacy, selected = words.selected;
  const POLL_MS = 2000, SNAP_MS = 2000;
  const labels = (id) => {
    const out = {};
    document.querySelectorAll(`#${id} li`).forEach((li) => { out[li.dataset.key] = li.textContent; });
    return out;
  };
  const stateLabel = labels("state-labels"), liveLabel = labels("live-labels");
  const kindLabel = labels("kind-labels"), statusLabel = labels("status-labels");
  const { el, fill } = window.RxDom;
  const time = (iso) => new Intl.DateTimeFormat("en-GB", { timeZone: words.tz, hour: "2-digit", minute: "2-digit",
    second: "2-digit", hour12: false }).format(new Date(iso));
  const safe = (s) => String(s).replace(/[^a-z_]/g, "");
  const base = `/api/v1/live/pharmacies/${encodeURIComponent(pharmacy)}`;
  const tiles = new Map();  // counter -> figure
  document.querySelectorAll(".counter-tile").forEach((f) => tiles.set(f.dataset.counter, f));

  const tileFor = (counter) => {
    if (tiles.has(counter)) return tiles.get(counter);
    const fig = el("figure", null, "counter-tile" + (counter === selected ? " selected" : ""));
    fig.dataset.counter = counter;
    fig.id = `counter-${counter}`;
    const cap = el("figcaption"), name = el("strong", counter), state = el("span", null, "cam-state");
    state.dataset.role = "state";
    cap.append(name, " ", state);
    const snap = el("div", null, "snap"), img = el("img"), none = el("p", null, "muted small");
    img.dataset.role = "snapshot"; img.hidden = true; img.alt = counter; none.dataset.role = "no-picture";
    snap.append(img, none);
    const health = el("p", null, "small muted");
    health.dataset.role = "health";
    fig.append(cap, snap, health);
    const holder = document.getElementById("counters"), empty = document.getElementById("no-counters");
    if (empty) empty.remove();
    holder.appendChild(fig);
    tiles.set(counter, fig);
    return fig;
  };
  const part = (fig, role) => fig.querySelector(`[data-role="${role}"]`);

  // the latest picture of each counter: fetched as a blob (no caching, no flicker), its time from the header
  const snapshot = async (counter, fig) => {
    const url = `/api/v1/cameras/${encodeURIComponent(pharmacy)}/${encodeURIComponent(counter)}/snapshot.jpg`;
    const img = part(fig, "snapshot"), note = part(fig, "no-picture");
    try {
      const r = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!r.ok) throw new Error(String(r.status));
      const blob = await r.blob(), old = img.src;
      img.src = URL.createObjectURL(blob);
      if (old && old.startsWith("blob:")) URL.revokeObjectURL(old);
      img.hidden = false;
      fig.dataset.snapshots = String(Number(fig.dataset.snapshots || 0) + 1);
      const at = r.headers.get("Last-Modified");
      fig.dataset.pictureAt = at || "";
      note.textContent = at ? fill(words.pictureAt, { t: time(new Date(at).toISOString()) }) : "";
    } catch (e) {
      if (img.hidden) note.textContent = words.noPicture;
    }
  };
  const snapshots = () => tiles.forEach((fig, counter) => snapshot(counter, fig));

  const cameraTile = (cam) => {
    const fig = tileFor(cam.counter_id), state = part(fig, "state");
    state.textContent = stateLabel[cam.state] || cam.state;
    state.className = `cam-state cs-${safe(cam.state)}`;
    const bits = [];
    if (cam.last_frame_at) bits.push(fill(words.lastFrame, { t: time(cam.last_frame_at) }));
    if (cam.fps !== null) bits.push(fill(words.fps, { n: cam.fps }));
    if (cam.gap_since) bits.push(fill(words.gap, { t: time(cam.gap_since) }));
    if (cam.detail) bits.push(cam.detail);
    part(fig, "health").textContent = bits.join(" · ");
  };

  const body = document.querySelector("#live-rows tbody");
  const seen = new Set();
  const settlementRow = (s) => {
    const tr = el("tr", null, s.counter_id === selected ? "sel" : "");
    tr.dataset.settlement = s.settlement_id;
    tr.dataset.counter = s.counter_id;
    tr.dataset.state = s.state;
    if (s.flags.length) tr.classList.add("flagged");
    if (seen.size && !seen.has(s.settlement_id)) tr.classList.add("fresh");
    const check = s.state === "done" ? (liveLabel[s.outcome] || s.outcome || "") : (liveLabel[s.state] || s.state);
    const flags = el("td", null, "flags");
    s.flags.forEach((f) => {
      const a = el("a", kindLabel[f.kind] || f.kind, `kind k-${safe(f.kind)}`);
      a.href = `/flags/${encodeURIComponent(String(f.id))}`;
      a.dataset.flag = String(f.id);
      a.title = statusLabel[f.review_status] || f.review_status;
      flags.append(a, " ");
    });
    tr.append(el("td", time(s.settled_at), "when"), el("td", s.counter_id), el("td", s.settlement_id),
      el("td", s.amount, "num"), el("td", check, `check ck-${safe(s.state === "done" ? s.outcome || "" : s.state)}`), flags);
    return tr;
  };

  let busy = false;
  const refresh = async () => {
    if (busy) return;
    busy = true;
    const stamp = document.getElementById("live-updated");
    try {
      const r = await fetch(`${base}?limit=50`, { credentials: "same-origin" });
      if (!r.ok) throw new Error(String(r.status));
      const data = await r.json();
      data.counters.forEach(tileFor);
      data.cameras.forEach(cameraTile);
      const rows = data.settlements.map(settlementRow);
      body.replaceChildren(...rows);
      if (!rows.length) {
        const tr = el("tr"), td = el("td", words.none, "muted");
        td.colSpan = 6; tr.appendChild(td); body.appendChild(tr);
      }
      data.settlements.forEach((s) => seen.add(s.settlement_id));
      if (!seen.size) seen.add("");  // from now on, a new settlement is marked as fresh
      stamp.textContent = time(new Date().toISOString());
      stamp.classList.remove("stale");
    } catch (e) {
      stamp.textContent = words.failed;
      stamp.classList.add("stale");
    } finally {
      busy = false;
    }
  };

  refresh().then(() => {
    if (selected && tiles.has(selected)) tiles.get(selected).scrollIntoView({ block: "nearest" });
  });
  snapshots();
  setInterval(refresh, POLL_MS);
  setInterval(snapshots, SNAP_MS);
  // a flag of this pharmacy: the list at once (its row marked), not at the next poll
  const source = new EventSource("/api/v1/events");
  source.addEventListener("flag", (e) => {
    const f = JSON.parse(e.data);
    if (f.pharmacy_id === pharmacy) refresh();
  });
})();
