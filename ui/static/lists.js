// Behaviour of the lists screens; no inline scripts are allowed by the page CSP.
(function () {
  "use strict";

  var ID_LIST = /^\d+(?:[\s,，、;；]+\d+)*$/;

  function filterForm() {
    return document.getElementById("list-filters");
  }

  function submitFilters() {
    var form = filterForm();
    if (!form) return;
    if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  }

  // Add a chosen record to a reference filter as a checked box, unless it is there already.
  function addChip(reference, value, label) {
    var name = reference.getAttribute("data-name");
    var chips = reference.querySelector(".list-chips");
    var boxes = chips.querySelectorAll("input[type=checkbox]");
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].value === value) {
        boxes[i].checked = true;
        return;
      }
    }
    var chip = document.createElement("label");
    chip.className = "list-chip";
    var box = document.createElement("input");
    box.type = "checkbox";
    box.name = name;
    box.value = value;
    box.checked = true;
    chip.appendChild(box);
    chip.appendChild(document.createTextNode(" " + label));
    chips.appendChild(chip);
  }

  function closeLookup(reference) {
    var input = reference.querySelector(".list-lookup-input");
    var options = reference.querySelector(".list-lookup-options");
    if (input) input.value = "";
    if (options) options.innerHTML = "";
  }

  // The lookup box searches another entity; its own changes must not refilter the list.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.classList && target.classList.contains("list-lookup-input")) event.stopPropagation();
  }, true);

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target.classList) return;
    if (target.classList.contains("list-select-all")) {
      var boxes = document.querySelectorAll("input[name=selected][form=list-bulk]");
      for (var i = 0; i < boxes.length; i++) boxes[i].checked = target.checked;
    } else if (target.classList.contains("list-submit-on-change")) {
      // Controls of the results block belong to the filter form through their form attribute,
      // but their events do not bubble through it.
      submitFilters();
    }
  });

  // Choosing an option of a lookup: the options are buttons carrying data-id and data-title.
  document.addEventListener("click", function (event) {
    var option = event.target.closest && event.target.closest(".list-lookup-options [data-id]");
    if (!option) return;
    event.preventDefault();
    var reference = option.closest(".list-reference");
    addChip(reference, option.getAttribute("data-id"), option.getAttribute("data-title") || option.textContent.trim());
    closeLookup(reference);
    submitFilters();
  });

  // Enter in a lookup box takes typed ids ("3, 5") as they are, or else the first option shown.
  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (event.key !== "Enter" || !input.classList || !input.classList.contains("list-lookup-input")) return;
    event.preventDefault();
    var reference = input.closest(".list-reference");
    var text = input.value.trim();
    if (ID_LIST.test(text)) {
      text.split(/[\s,，、;；]+/).forEach(function (id) { addChip(reference, id, "#" + id); });
    } else {
      var first = reference.querySelector(".list-lookup-options [data-id]");
      if (!first) return;
      addChip(reference, first.getAttribute("data-id"), first.getAttribute("data-title") || first.textContent.trim());
    }
    closeLookup(reference);
    submitFilters();
  });
})();
