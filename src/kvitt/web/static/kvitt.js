/* Kvitt web invoice: progressive enhancement only. Without this file every part of the page
   works; with it, copy buttons appear next to the bankgiro and OCR numbers. */
(function () {
  "use strict";
  var texts = document.documentElement.dataset;

  function announce(text) {
    var live = document.getElementById("live");
    if (live) { live.textContent = text; }
  }

  function enhance(root) {
    if (!navigator.clipboard || !window.isSecureContext) { return; }
    root.querySelectorAll("[data-copy]").forEach(function (el) {
      if (el.dataset.enhanced) { return; }
      el.dataset.enhanced = "1";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.textContent = texts.copyText;
      button.setAttribute("aria-label", texts.copyText + " " + el.dataset.copyLabel);
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(el.dataset.copy).then(function () {
          button.textContent = texts.copiedText;
          announce(texts.copiedText + ": " + el.dataset.copyLabel);
          window.setTimeout(function () { button.textContent = texts.copyText; }, 2500);
        });
      });
      el.appendChild(document.createTextNode(" "));
      el.appendChild(button);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSettle", function (event) { enhance(event.target); });
})();
