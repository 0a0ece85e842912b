// Behaviour of the forms screens; no inline scripts are allowed by the page CSP.
(function () {
  "use strict";

  function changed(element) {
    // Hidden inputs fire no change event of their own; the form's rules listen for one.
    element.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // A form that failed to save comes back with status 422 (errors) or 409 (changed by someone else):
  // swap it in like a success so the user sees the errors beside the fields.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status === 422 || status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Other failures (an expired page, a record someone deleted) would otherwise leave the form silent.
  document.addEventListener("htmx:responseError", function (event) {
    var source = event.detail.elt;
    if (!source || !source.closest || !source.closest(".record-form, #workflow")) return;
    var status = event.detail.xhr.status;
    if (status === 422 || status === 409) return;
    var english = document.body.getAttribute("data-lang") === "en";
    window.alert(english
      ? "The request failed (status " + status + "). Reload the page and try again."
      : "请求失败（状态 " + status + "）。请刷新页面后重试。");
  });

  // A save that failed brings the error summary into view. Only the save moves the focus, because
  // rule checks and lookups respond while the user types. Taking the focus from a reference's
  // search box would put its shown title back, or leave it empty and drop the chosen record.
  document.addEventListener("htmx:afterSwap", function (event) {
    var config = event.detail && event.detail.requestConfig;
    var source = config && config.elt;
    if (!source || !source.matches || !source.matches("form.record-form")) return;
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  });

  // Money: thousands separators once the user leaves the field; the server accepts them.
  function formatMoney(input) {
    var text = input.value.replace(/[,\s，]/g, "").replace(/^¥/, "");
    if (!/^-?\d+(\.\d+)?$/.test(text)) return;
    var places = parseInt(input.getAttribute("data-places") || "2", 10);
    var parts = text.split(".");
    var decimals = (parts[1] || "");
    if (decimals.length > places) return; // leave it for the server to report
    while (decimals.length < places) decimals += "0";
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    input.value = places > 0 ? whole + "." + decimals : whole;
  }
  document.addEventListener("focusout", function (event) {
    var input = event.target;
    if (input.classList && input.classList.contains("money")) formatMoney(input);
  });

  // Reference controls: search, choose an option, remove a choice.
  function widgetOf(element) { return element.closest(".ref-widget"); }

  function choose(option) {
    var widget = widgetOf(option);
    var search = widget.querySelector(".ref-search");
    var id = option.getAttribute("data-id");
    var title = option.getAttribute("data-title");
    if (widget.classList.contains("multiple")) {
      var list = widget.querySelector(".ref-chips");
      var exists = Array.prototype.some.call(list.querySelectorAll("input"), function (input) { return input.value === id; });
      if (!exists) {
        var item = document.createElement("li");
        var hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = widget.getAttribute("data-name");
        hidden.value = id;
        var label = document.createElement("span");
        label.textContent = title;
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link ref-remove";
        remove.textContent = "×";
        item.append(hidden, label, " ", remove);
        list.appendChild(item);
        changed(hidden);
      }
      search.value = "";
    } else {
      var value = widget.querySelector(".ref-value");
      value.value = id;
      search.value = title;
      search.setAttribute("data-title", title);
      changed(value);
    }
    // Focusing the search box again would search again and reopen the options.
    widget.querySelector(".ref-options").innerHTML = "";
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var option = target.closest && target.closest(".ref-option");
    if (option) { choose(option); return; }
    if (target.classList.contains("ref-remove")) {
      var item = target.closest("li");
      var list = item.parentNode;
      item.remove();
      changed(list);
      return;
    }
    if (target.classList.contains("file-remove")) {
      var file = target.closest("li");
      var files = file.parentNode;
      file.remove();
      changed(files);
      return;
    }
    if (target.classList.contains("child-add")) { addRow(target.closest(".child-table")); return; }
    if (target.classList.contains("child-remove")) { removeRow(target.closest(".child-row")); return; }
    document.querySelectorAll(".ref-options").forEach(function (options) {
      if (!options.parentNode.contains(target)) options.innerHTML = "";
    });
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key !== "Enter" || !target.classList || !target.classList.contains("ref-search")) return;
    // Enter chooses the first option instead of submitting the form.
    event.preventDefault();
    var first = widgetOf(target).querySelector(".ref-option");
    if (first) choose(first);
  });

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (!target.classList || !target.classList.contains("ref-search")) return;
    var widget = widgetOf(target);
    if (!widget.classList.contains("multiple") && target.value.trim() === "") {
      var value = widget.querySelector(".ref-value");
      if (value.value) { value.value = ""; target.setAttribute("data-title", ""); changed(value); }
    }
  });

  document.addEventListener("focusout", function (event) {
    var target = event.target;
    if (!target.classList || !target.classList.contains("ref-search")) return;
    var widget = widgetOf(target);
    if (widget.classList.contains("multiple")) return;
    // Typing without choosing keeps the earlier choice: show its title again.
    window.setTimeout(function () {
      if (document.activeElement && widget.contains(document.activeElement)) return;
      target.value = target.getAttribute("data-title") || "";
    }, 200);
  });

  // Child tables: rows are named <field>.<index>.<row field>, renumbered after every change.
  function renumber(table) {
    var field = table.getAttribute("data-field");
    var pattern = new RegExp("(" + field + ")([.-])(\\d+|__index__)([.-])");
    table.querySelectorAll("tbody .child-row").forEach(function (row, index) {
      row.querySelectorAll("[name], [id], [for], [hx-target], [aria-describedby]").forEach(function (element) {
        ["name", "id", "for", "hx-target", "aria-describedby"].forEach(function (attribute) {
          var value = element.getAttribute(attribute);
          if (value) element.setAttribute(attribute, value.replace(pattern, "$1$2" + index + "$4"));
        });
      });
    });
  }

  function addRow(table) {
    var template = table.querySelector("template.child-template");
    var body = table.querySelector("tbody");
    var row = template.content.firstElementChild.cloneNode(true);
    body.appendChild(row);
    renumber(table);
    if (window.htmx) window.htmx.process(row);
    var first = row.querySelector("input, select, textarea");
    if (first) first.focus();
    changed(body);
  }

  function removeRow(row) {
    var table = row.closest(".child-table");
    var body = row.parentNode;
    row.remove();
    renumber(table);
    changed(body);
  }

  // Upload progress of a form that carries files.
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target;
    if (!form || !form.classList || !form.classList.contains("record-form")) return;
    var bar = form.querySelector(".upload-progress");
    if (!bar || !event.detail.lengthComputable) return;
    bar.hidden = false;
    bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  });
})();
