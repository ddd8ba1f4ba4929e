// The report's sign-in: the analyst's token stays in this tab (sessionStorage, forgotten when the
// tab closes) and goes to metrics only in the Authorization header of a same-origin fetch, never
// in a URL or a cookie, so no other site can make the browser use it.
(function () {
  "use strict";
  var KEY = "kolot.analyst-token";
  var form = document.getElementById("login");
  if (!form) return;
  var field = form.elements.namedItem("token");
  var status = document.getElementById("login-status");

  function say(key, busy) {
    status.textContent = form.getAttribute("data-msg-" + key) || "";
    status.className = busy ? "status busy" : "status";
  }

  function reportUrl() {
    var url = new URL(window.location.href);
    url.searchParams.set("format", "html");
    return url.toString();
  }

  function show(html) {
    var next = new DOMParser().parseFromString(html, "text/html");
    document.replaceChild(document.adoptNode(next.documentElement), document.documentElement);
    var signOut = document.getElementById("sign-out");
    if (signOut) {
      signOut.hidden = false;
      signOut.addEventListener("click", function () {
        window.sessionStorage.removeItem(KEY);
        window.location.reload();
      });
    }
    var main = document.getElementById("main");
    if (main) main.focus();
  }

  function open(token) {
    say("loading", true);
    return window
      .fetch(reportUrl(), {
        headers: { Authorization: "Bearer " + token, Accept: "text/html" },
        credentials: "omit",
        cache: "no-store",
      })
      .then(function (response) {
        if (response.ok) {
          window.sessionStorage.setItem(KEY, token);
          return response.text().then(show);
        }
        window.sessionStorage.removeItem(KEY);
        say(response.status === 401 || response.status === 403 ? String(response.status) : "error");
        field.focus();
      })
      .catch(function () {
        say("error");
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var token = field.value.trim().replace(/^Bearer\s+/i, "");
    if (!token) {
      say("empty");
      field.focus();
      return;
    }
    open(token);
  });

  var kept = window.sessionStorage.getItem(KEY);
  if (kept) open(kept);
})();
