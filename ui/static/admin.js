// Behaviour of the admin screens; no inline scripts are allowed by the page's CSP.
(function () {
  "use strict";

  // Invalid input comes back with status 422 and the form with its messages: swap it in
  // like a success, where htmx would otherwise drop every 4xx response.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
