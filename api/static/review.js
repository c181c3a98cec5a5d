// Keyboard shortcuts and the player: the clip jumps to the swipe time.
(function () {
  const queue = document.getElementById("queue");
  if (queue) {
    const rows = Array.from(queue.querySelectorAll("tbody tr[data-href]"));
    let i = 0;
    const mark = () => rows.forEach((r, k) => r.classList.toggle("sel", k === i));
    if (rows.length) mark();
    document.addEventListener("keydown", (e) => {
      if (e.target.closest("input,select,textarea")) return;
      if (e.key === "j") { i = Math.min(rows.length - 1, i + 1); mark(); }
      if (e.key === "k") { i = Math.max(0, i - 1); mark(); }
      if (e.key === "Enter" && rows[i]) location.href = rows[i].dataset.href;
    });
  }
  const video = document.getElementById("clip");
  if (video) {
    fetch(video.src, { headers: { Range: "bytes=0-0" } }).then((r) => {
      const offset = parseFloat(r.headers.get("X-Swipe-Offset") || "0");
      video.dataset.swipe = String(offset);
      const seek = () => { video.currentTime = offset; };
      if (video.readyState >= 1) seek(); else video.addEventListener("loadedmetadata", seek, { once: true });
    });
  }
  const form = document.getElementById("verdict");
  if (form) {
    document.addEventListener("keydown", (e) => {
      if (e.target.closest("input,select,textarea")) return;
      const action = { c: "confirm", d: "dismiss", e: "escalate" }[e.key];
      const button = action && document.getElementById("btn-" + action);
      if (button) { e.preventDefault(); button.click(); }
    });
  }
})();
