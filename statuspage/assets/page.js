// mooring status page: follow changes without a reload. The server sends a
// "change" event (server-sent events) when the page's data changed; the
// page then fetches its own <main> again and swaps it in. Without
// JavaScript the page is complete; it only does not update itself.
(function () {
  "use strict";
  var main = document.querySelector("main[data-events]");
  if (!main || !window.EventSource || !window.fetch) return;
  var status = document.getElementById("live");
  var busy = false, again = false;
  function say(text) { if (status) status.textContent = text; }
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    var url = location.pathname + "?part=main";
    fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error(r.status + " " + r.statusText);
        var v = r.headers.get("X-Page-Version");
        return r.text().then(function (html) {
          main.innerHTML = html;
          if (v) main.setAttribute("data-version", v);
          say("Live: updated " + new Date().toLocaleTimeString());
        });
      })
      .catch(function (e) { say("Live: update failed (" + e.message + "), retrying"); again = true; })
      .then(function () { busy = false; if (again) { again = false; setTimeout(refresh, 500); } });
  }
  var es = new EventSource(main.getAttribute("data-events") + "&since=" + encodeURIComponent(main.getAttribute("data-version") || "0"));
  es.addEventListener("change", refresh);
  es.onopen = function () { say("Live: following changes"); };
  es.onerror = function () { say("Live: reconnecting"); };
})();
