// kubetrail web UI: keyboard shortcuts only; the pages work without it.
// "/" focuses the search box (the search page's own, else the nav bar's).
"use strict";
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
  const box = document.getElementById("q") || document.querySelector("input[data-hotkey='/']");
  if (box) {
    event.preventDefault();
    box.focus();
  }
});
