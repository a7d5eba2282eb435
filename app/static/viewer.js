// Dossier page viewer: one page at reading size, previous/next (buttons, thumbnails, arrow
// keys), zoom, and the box of each field found on its page. A script file: the pages'
// Content Security Policy runs no inline script and no inline style, so boxes are placed
// from their data attributes here. Its words come from the page's message catalogue (the
// body's data-words).
(function () {
  "use strict";
  const words = JSON.parse(document.body.dataset.words);
  const viewer = document.getElementById("viewer");
  if (!viewer) return;
  const pages = Array.from(viewer.querySelectorAll("figure.page"));
  if (pages.length === 0) return;
  const frame = document.getElementById("page-frame");
  const label = document.getElementById("page-label");
  const prev = document.getElementById("page-prev");
  const next = document.getElementById("page-next");
  const thumbs = Array.from(viewer.querySelectorAll("button.thumb"));
  let current = 1;
  let zoom = 1;

  viewer.querySelectorAll(".mark").forEach((mark) => {
    const [left, top, width, height] = mark.dataset.box.split(" ").map(Number);
    mark.style.left = `${left * 100}%`;
    mark.style.top = `${top * 100}%`;
    mark.style.width = `${width * 100}%`;
    mark.style.height = `${height * 100}%`;
  });

  function show(number) {
    current = Math.min(Math.max(1, number), pages.length);
    pages.forEach((page) => { page.hidden = Number(page.dataset.number) !== current; });
    thumbs.forEach((thumb) => {
      const on = Number(thumb.dataset.number) === current;
      thumb.classList.toggle("current", on);
      if (on) thumb.setAttribute("aria-current", "page"); else thumb.removeAttribute("aria-current");
    });
    label.textContent = words.page_of.replace("{n}", current).replace("{total}", pages.length);
    prev.disabled = current === 1;
    next.disabled = current === pages.length;
  }
  function setZoom(value) {
    zoom = Math.min(Math.max(0.5, value), 8);
    viewer.style.setProperty("--zoom", zoom);
    frame.classList.toggle("zoomed", zoom !== 1);
  }

  prev.addEventListener("click", () => show(current - 1));
  next.addEventListener("click", () => show(current + 1));
  document.getElementById("zoom-in").addEventListener("click", () => setZoom(zoom * 1.25));
  document.getElementById("zoom-out").addEventListener("click", () => setZoom(zoom / 1.25));
  document.getElementById("zoom-fit").addEventListener("click", () => setZoom(1));
  thumbs.forEach((thumb) => thumb.addEventListener("click", () => show(Number(thumb.dataset.number))));
  frame.addEventListener("keydown", (e) => {
    if (e.key === "ArrowRight" || e.key === "PageDown") { show(current + 1); e.preventDefault(); }
    if (e.key === "ArrowLeft" || e.key === "PageUp") { show(current - 1); e.preventDefault(); }
    if (e.key === "+" || e.key === "=") setZoom(zoom * 1.25);
    if (e.key === "-") setZoom(zoom / 1.25);
  });
  // A field's name shows its page, with its box marked, and its value over the page. On a
  // phone (issue 29: an A4 page at fit is ~350 px wide, the fields ~1000 px under it) the
  // page is zoomed to the box, the box scrolled to the middle of the frame, and the viewer
  // brought to the top of the screen: the value and its place on the paper seen together.
  const narrow = window.matchMedia("(max-width: 47.99rem)");
  const callout = document.getElementById("field-callout");
  function choose(name, page) {
    let mark = null;
    viewer.querySelectorAll(".mark").forEach((m) => {
      const on = m.dataset.field === name;
      m.classList.toggle("focus", on);
      if (on) mark = m;
    });
    document.querySelectorAll("#fields tbody tr").forEach((row) => row.classList.toggle("focus", row.dataset.field === name));
    show(page);
    const row = document.querySelector(`#fields tbody tr[data-field="${name}"]`);
    if (row && callout) {
      document.getElementById("callout-name").textContent = row.querySelector("th").textContent.trim();
      const cell = row.querySelector("td");
      const value = cell.firstChild && cell.firstChild.nodeType === Node.TEXT_NODE ? cell.firstChild.textContent : "";
      document.getElementById("callout-value").textContent = value.trim();
      callout.hidden = false;
    }
    if (narrow.matches && mark) {
      const width = Number(mark.dataset.box.split(" ")[2]) || 1;
      setZoom(Math.max(1, 0.85 / width));
      frame.focus({ preventScroll: true });
      const image = mark.closest(".page-box").querySelector("img");
      if (image.complete) centre(mark);
      else image.addEventListener("load", () => centre(mark), { once: true });
    } else {
      frame.focus();
    }
  }
  function centre(mark) {
    const box = mark.getBoundingClientRect();
    const seen = frame.getBoundingClientRect();
    frame.scrollLeft += box.left - seen.left - (seen.width - box.width) / 2;
    frame.scrollTop += box.top - seen.top - (seen.height - box.height) / 2;
    viewer.scrollIntoView({ block: "start" });
  }
  document.querySelectorAll("button.show-field").forEach((button) => {
    button.addEventListener("click", () => choose(button.dataset.field, Number(button.dataset.page)));
  });
  const focused = viewer.querySelector(".mark.focus");
  // ?page=N (a search result's matching page): a whole number only, clamped by show().
  const asked = Number.parseInt(new URLSearchParams(window.location.search).get("page") || "", 10);
  show(focused ? Number(focused.closest("figure.page").dataset.number) : (Number.isInteger(asked) ? asked : 1));
  // A link naming a field (the review desk's) opens on it, zoomed on a phone.
  if (focused && narrow.matches) choose(focused.dataset.field, Number(focused.closest("figure.page").dataset.number));
})();
