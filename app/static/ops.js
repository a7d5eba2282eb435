// /ops: the failures ticked for a bulk retry survive the page's refresh (every 30 s): kept
// in this tab's session storage until the bulk form is sent. A script file: the pages'
// Content Security Policy runs no inline script.
(function () {
  "use strict";
  const KEY = "sohoa.ops.chosen";
  const boxes = Array.from(document.querySelectorAll('input[type=checkbox][form="bulk-retry"]'));
  const form = document.getElementById("bulk-retry");
  if (!form || boxes.length === 0) return;
  let kept = [];
  try { kept = JSON.parse(sessionStorage.getItem(KEY) || "[]"); } catch (e) { kept = []; }
  boxes.forEach((box) => { if (kept.includes(box.value)) box.checked = true; });
  function keep() {
    sessionStorage.setItem(KEY, JSON.stringify(boxes.filter((b) => b.checked).map((b) => b.value)));
  }
  boxes.forEach((box) => box.addEventListener("change", keep));
  form.addEventListener("submit", () => sessionStorage.removeItem(KEY));
})();
