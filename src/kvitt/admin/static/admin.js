/* Kvitt back office: progressive enhancement only; every page works without this file.
   On a phone the menu starts folded. */
(function () {
  "use strict";
  function fold() {
    var menu = document.querySelector(".nav-menu");
    if (menu && window.matchMedia("(max-width: 59.99rem)").matches) { menu.removeAttribute("open"); }
  }
  document.addEventListener("DOMContentLoaded", fold);
  document.addEventListener("htmx:afterSettle", fold);
}());
