// Review queue: a field crop that cannot be made (the value is not on the page images)
// is replaced by a line of text. A script file, not an inline handler: the pages' Content
// Security Policy runs no inline script.
// Its words come from the page's message catalogue (the body's data-words).
(function () {
  "use strict";
  const words = JSON.parse(document.body.dataset.words);
  function missing(img) {
    img.replaceWith(document.createTextNode(words.crop_missing));
  }
  // A chosen item shows a link to the bulk dismissal at the queue's foot (hidden, so no Tab
  // stop, until the item is chosen): keyboard users need not Tab past every other item.
  document.querySelectorAll(".item-actions").forEach(function (row) {
    const box = row.querySelector(".pick input");
    const link = row.querySelector("a.to-bulk");
    if (!box || !link) return;
    const sync = function () { link.hidden = !box.checked; };
    box.addEventListener("change", sync);
    sync();
    link.addEventListener("click", function (event) {
      event.preventDefault();
      const reason = document.getElementById("bulk-reason");
      reason.scrollIntoView({ block: "nearest" });
      reason.focus();
    });
  });
  document.querySelectorAll("img.crop").forEach(function (img) {
    // Already failed before this script ran: replace now; else when it fails.
    if (img.complete && img.naturalWidth === 0) {
      missing(img);
    } else {
      img.addEventListener("error", function () { missing(img); });
    }
  });
})();
