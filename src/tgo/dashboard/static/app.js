// TGO Business dashboard: progressive enhancements only (every page works without JavaScript).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // The browser's time zone, for times on pages whose user has not chosen one in the profile.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("tgo_tz=" + zone) === -1) {
      document.cookie = "tgo_tz=" + zone + "; path=/dashboard; max-age=31536000; SameSite=Lax";
    }
  } catch (err) { /* no Intl: times stay in UTC */ }

  // The header menu folds behind a "Menu" button on narrow screens (CSS decides when).
  function setUpMenu() {
    var toggle = document.getElementById("menu-toggle");
    var menu = document.getElementById("site-menu");
    if (!toggle || !menu) return;
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("open", open);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.classList.contains("open")) {
        toggle.setAttribute("aria-expanded", "false");
        menu.classList.remove("open");
        toggle.focus();
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpMenu);
  else setUpMenu();

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy") ? resolve() : reject(new Error("copy failed")); }
      catch (err) { reject(err); }
      finally { document.body.removeChild(area); }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    if (!input) return;
    input.select();
    copyText(input.value).then(function () {
      var original = button.textContent;
      button.textContent = button.getAttribute("data-copied-text") || original;
      button.setAttribute("data-copied", "true");
      setTimeout(function () { button.textContent = original; }, 2000);
    }, function () { /* the text stays selected so the user can copy it by hand */ });
  });

  // Charts: <canvas data-chart="id-of-a-json-script"> (JSON kept out of inline scripts for the CSP).
  function drawCharts(root) {
    if (typeof window.Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) return;
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source) return;
      var config = JSON.parse(source.textContent);
      var rtl = document.documentElement.dir === "rtl";
      config.options = config.options || {};
      config.options.maintainAspectRatio = false;
      config.options.animation = false;
      config.options.plugins = config.options.plugins || {};
      // Labels are phone numbers and dates: laid out right-to-left, but each reads left-to-right.
      config.options.plugins.legend = { rtl: rtl, textDirection: "ltr", position: "bottom" };
      config.options.plugins.tooltip = { rtl: rtl, textDirection: "ltr" };
      config.options.scales = config.options.scales || {};
      if (config.options.scales.x) config.options.scales.x.reverse = rtl;
      new window.Chart(canvas, config);
      canvas.dataset.drawn = "true";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.target); });
})();
