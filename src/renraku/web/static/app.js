// renraku dashboard: live filter preview, polling of live fragments, confirmations.
// Plain JavaScript, no build step; every POST carries the session's CSRF token.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  function swap(target, html) {
    target.innerHTML = html;
    var go = target.querySelector("[data-go]");
    if (go) { window.location.assign(go.getAttribute("href")); }
  }

  function request(method, url, body) {
    var headers = { "X-Requested-With": "fetch", "X-CSRF-Token": csrf };
    return fetch(url, { method: method, body: body, headers: headers, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) { window.location.assign(window.location.pathname); }
        return r.text();
      });
  }

  // Forms with data-live="URL": POST the form there as the user types; show the answer in
  // the element named by data-target.
  document.querySelectorAll("form[data-live]").forEach(function (form) {
    var target = document.querySelector(form.getAttribute("data-target"));
    var timer = null;
    var seq = 0;
    function refresh() {
      var mine = ++seq;
      target.setAttribute("aria-busy", "true");
      request("POST", form.getAttribute("data-live"), new FormData(form)).then(function (html) {
        if (mine === seq) { swap(target, html); target.removeAttribute("aria-busy"); }
      });
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    });
  });

  // Elements with data-poll="URL": reload their content every data-interval milliseconds.
  document.querySelectorAll("[data-poll]").forEach(function (el) {
    var every = parseInt(el.getAttribute("data-interval") || "5000", 10);
    setInterval(function () {
      if (document.hidden) { return; }
      request("GET", el.getAttribute("data-poll")).then(function (html) { swap(el, html); });
    }, every);
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });

  var chooser = document.querySelector("form.app-chooser select");
  if (chooser) {
    chooser.addEventListener("change", function () { chooser.form.submit(); });
  }
})();
