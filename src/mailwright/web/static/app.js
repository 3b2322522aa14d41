// mailwright dashboard: progressive enhancement only; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Forms that destroy something ask first.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  // Highlight a chart series when its legend entry is hovered.
  for (const item of document.querySelectorAll("figure.chart .legend span")) {
    const name = item.textContent.split(" (")[0].trim();
    const group = document.querySelector(`figure.chart g[data-series="${name}"]`);
    if (!group) continue;
    item.addEventListener("mouseenter", () => group.classList.add("focus"));
    item.addEventListener("mouseleave", () => group.classList.remove("focus"));
  }
  document.documentElement.dataset.ready = "1";
});
