// Behaviour the generated screens share; no inline scripts are allowed by the page's CSP.
(function () {
  "use strict";

  // Ask before a request whose element carries data-confirm, in the page's language.
  document.addEventListener("htmx:confirm", function (event) {
    var element = event.detail.elt;
    var question = element && element.getAttribute("data-confirm");
    if (!question) return;
    event.preventDefault();
    if (window.confirm(question)) event.detail.issueRequest(true);
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !form.hasAttribute("hx-post") && !window.confirm(question)) event.preventDefault();
  });
})();
