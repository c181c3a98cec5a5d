// The undo notice carried to the page after a verdict: counts down the seconds left to undo and
// hides itself when they run out. Text comes from the page's data-* attributes.
(function () {
  "use strict";
  const box = document.getElementById("undo-notice"), left = document.getElementById("undo-left");
  if (!box || !left) return;
  let s = parseInt(box.dataset.left || "0", 10);
  const timer = setInterval(() => {
    s -= 1;
    if (s <= 0) { clearInterval(timer); box.hidden = true; return; }
    left.textContent = left.dataset.text.replace("{s}", String(s));
  }, 1000);
})();
