// Quarantine page: "Select all on this page" (the page works without it: each row has its checkbox).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const holder = document.querySelector("[data-select-all]");
  const all = document.getElementById("select-all");
  const boxes = Array.from(document.querySelectorAll('#decide-rows input[name="ids"]'));
  if (!holder || !all || boxes.length === 0) return;
  holder.hidden = false;
  all.addEventListener("change", () => {
    for (const box of boxes) box.checked = all.checked;
  });
  for (const box of boxes) {
    box.addEventListener("change", () => {
      all.checked = boxes.every((b) => b.checked);
    });
  }
});
