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
  document.querySelectorAll("img.crop").forEach(function (img) {
    // Already failed before this script ran: replace now; else when it fails.
    if (img.complete && img.naturalWidth === 0) {
      missing(img);
    } else {
      img.addEventListener("error", function () { missing(img); });
    }
  });
})();
