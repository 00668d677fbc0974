// miniauth admin: progressive enhancements only; every page works without it.
(function () {
  "use strict";
  // Ask before destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
  // Boxes that scroll sideways (wide tables on a phone) can be reached
  // and scrolled with the keyboard, and say what they hold.
  function markScrollers() {
    document.querySelectorAll(".table-wrap, .chart-scroll").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        if (!box.hasAttribute("aria-label")) {
          var head = box.closest("section, main");
          var h = head && head.querySelector("h1, h2");
          box.setAttribute("aria-label", h ? h.textContent.trim() : document.title);
        }
      } else if (box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
      }
    });
  }
  markScrollers();
  window.addEventListener("resize", markScrollers);
  // A control focused inside a scrolled box comes into view.
  document.addEventListener("focusin", function (e) {
    if (e.target.closest && e.target.closest(".table-wrap") && e.target.scrollIntoView) {
      e.target.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  });
})();
