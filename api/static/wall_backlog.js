// The wall's live-audit backlog (from /api/v1/live/status, read every few seconds): the settlements
// received live and not checked yet, the longest wait and the p50 delay of the last hour in the tile, and
// the counters waiting longest, each one click from its live view. Values from the server are text only.
window.RxWallBacklog = (function () {
  "use strict";
  const SHOWN = 5;  // counters named under the live list
  const $ = (id) => document.getElementById(id);
  const { el, fill } = window.RxDom;
  const duration = (s, words) => (s === null || s === undefined ? "–"
    : s < 120 ? fill(words.seconds, { n: Math.round(s) }) : fill(words.minutes, { n: Math.round(s / 60) }));

  const render = (st) => {
    const words = $("backlog-detail").dataset;
    $("backlog").textContent = String(st.pending + st.claimed);
    $("backlog").classList.remove("stale");
    $("backlog-detail").textContent = fill(words.text, { oldest: duration(st.oldest_delay_s, words),
      p50: duration(st.p50_delay_s, words) });
    const tile = $("backlog-tile");
    tile.dataset.pending = String(st.pending);
    tile.dataset.claimed = String(st.claimed);
    tile.classList.toggle("late", (st.oldest_delay_s || 0) > 60);
    const delays = $("delays"), waiting = st.counters.filter((c) => c.delay_s > 0).slice(0, SHOWN);
    delays.querySelectorAll("a").forEach((a) => a.remove());
    waiting.forEach((c) => {
      const a = el("a", `${c.pharmacy_id}/${c.counter_id} ${duration(c.delay_s, words)}`);
      a.href = `/live/${encodeURIComponent(c.pharmacy_id)}?counter=${encodeURIComponent(c.counter_id)}`;
      a.dataset.counter = `${c.pharmacy_id}/${c.counter_id}`;
      delays.appendChild(a);
    });
    delays.hidden = !waiting.length;
  };
  const read = () => fetch("/api/v1/live/status", { credentials: "same-origin" })
    .then((r) => { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
    .then(render)
    .catch(() => { $("backlog").classList.add("stale"); });
  return { start: (everyMs) => { read(); setInterval(read, everyMs); }, render };
})();
