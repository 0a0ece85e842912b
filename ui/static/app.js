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

// Transitions that need a comment, required fields or a confirmation open their <dialog>.
// Without JavaScript the dialogs stay hidden and the plain forms beside the buttons post instead.
(function () {
  "use strict";

  // Marks the page so that app.css hides the plain forms' comment boxes that the dialogs replace.
  document.documentElement.classList.add("js-dialogs");

  function openDialog(dialog) {
    dialog.removeAttribute("data-open");
    if (!dialog.open) dialog.showModal();
    var focus = dialog.querySelector("[aria-invalid=true]") ||
      dialog.querySelector("input:not([type=hidden]), select, textarea");
    if (focus) focus.focus();
  }

  // A failed attempt comes back with its dialog marked data-open: show it again with its messages.
  function reopen(root) {
    if (!root || !root.querySelectorAll) return;
    var found = Array.prototype.slice.call(root.querySelectorAll("dialog[data-open]"));
    if (root.matches && root.matches("dialog[data-open]")) found.push(root);
    found.forEach(function (dialog) {
      if (typeof dialog.showModal === "function") openDialog(dialog);
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) return;
    var button = target.closest("[data-dialog]");
    if (button) {
      var dialog = document.getElementById(button.getAttribute("data-dialog"));
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        openDialog(dialog);
      }
      return;
    }
    var cancel = target.closest(".dialog-cancel");
    var open = cancel && cancel.closest("dialog");
    if (open) open.close();
  });

  document.addEventListener("DOMContentLoaded", function () { reopen(document); });
  document.addEventListener("htmx:load", function (event) { reopen(event.target); });
})();
