// miniauth admin: progressive enhancements only; every page works without it.
(function () {
  "use strict";
  // Ask before destructive actions.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
  // Recovery codes: copy them, or save them as a text file.
  function codesOf(sel) {
    var list = document.querySelector(sel);
    return list ? Array.prototype.map.call(list.querySelectorAll("li"), function (li) { return li.textContent.trim(); }) : [];
  }
  function say(text) {
    var s = document.getElementById("recovery-status");
    if (s) s.textContent = text;
  }
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var text = codesOf(btn.getAttribute("data-copy")).join("\n");
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(function () { say(btn.getAttribute("data-done")); });
    });
  });
  document.querySelectorAll("button[data-download]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var text = btn.getAttribute("data-heading") + "\n\n" + codesOf(btn.getAttribute("data-download")).join("\n") + "\n";
      var a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
      a.download = btn.getAttribute("data-filename");
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
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
