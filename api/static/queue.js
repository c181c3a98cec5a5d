// The queue: j/k move, x ticks, Enter opens, u undoes the last verdict (its notice's button); ticked
// flags feed the bulk form (a dismissal needs a reason; a confirmation page with the count follows on
// the server). Text only: no markup is built here.
(function () {
  "use strict";
  const queue = document.getElementById("queue");
  if (!queue) return;
  const rows = Array.from(queue.querySelectorAll("tbody tr[data-href]"));
  const boxes = () => Array.from(queue.querySelectorAll("input[name=ids]"));
  const count = document.getElementById("ticked"), all = document.getElementById("tick-all");
  const bulk = document.getElementById("bulk");
  const recount = () => {
    const n = boxes().filter((b) => b.checked).length;
    if (count) count.textContent = String(n);
    if (all) all.checked = n > 0 && n === boxes().length;
  };
  let i = 0;
  const mark = () => rows.forEach((r, k) => r.classList.toggle("sel", k === i));
  if (rows.length) mark();
  queue.addEventListener("change", recount);
  if (all) all.addEventListener("change", () => { boxes().forEach((b) => { b.checked = all.checked; }); recount(); });
  if (bulk) bulk.addEventListener("submit", (e) => {
    if (!boxes().some((b) => b.checked)) { e.preventDefault(); window.alert(bulk.dataset.none); return; }
    const action = document.getElementById("bulk-action"), reason = document.getElementById("bulk-reason");
    if (action && reason && action.value === "dismiss" && !reason.value) {  // the server refuses it too (422)
      e.preventDefault(); reason.classList.add("need"); reason.focus(); window.alert(bulk.dataset.needReason);
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.target.closest("input:not([type=checkbox]),select,textarea")) return;
    if (e.key === "j") { i = Math.min(rows.length - 1, i + 1); mark(); }
    if (e.key === "k") { i = Math.max(0, i - 1); mark(); }
    if (e.key === "x" && rows[i]) {
      const b = rows[i].querySelector("input[name=ids]");
      if (b) { b.checked = !b.checked; recount(); }
    }
    if (e.key === "Enter" && rows[i] && !e.target.closest("button,a")) location.href = rows[i].dataset.href;
    if (e.key === "u") { const undo = document.getElementById("undo-notice-btn"); if (undo) undo.click(); }
  });
  recount();
})();
