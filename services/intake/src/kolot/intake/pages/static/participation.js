// The participation page, enhanced: its forms post in place (the same page routes, answering
// JSON when asked), and the author's own statuses refresh for a while after posting, so a
// decision appears without a reload. Without this file every form still works (303 redirects).
// The participant token stays in its HttpOnly cookie: this script never sees it.
(function () {
  "use strict";
  var body = document.body;
  var cid = body.getAttribute("data-campaign");
  var lang = body.getAttribute("data-lang");
  var status = document.getElementById("status");
  if (!cid || !status || !window.fetch || !window.URLSearchParams) return;

  function say(text) {
    var p = document.createElement("p");
    p.textContent = text;
    status.replaceChildren(p);
  }

  function clearErrors(form) {
    form.querySelectorAll(".error[data-js]").forEach(function (e) { e.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (c) { c.removeAttribute("aria-invalid"); });
  }

  function showErrors(form, errors) {
    var first = null;
    Object.keys(errors || {}).forEach(function (name, i) {
      var control = form.querySelector('[name="' + CSS.escape(name) + '"]');
      if (!control) return;
      var p = document.createElement("p");
      p.className = "error";
      p.id = "js-err-" + i + "-" + Date.now();
      p.setAttribute("data-js", "");
      p.textContent = errors[name];
      var box = control.closest("fieldset") || control;
      (box === control ? control : box.lastElementChild).insertAdjacentElement("afterend", p);
      control.setAttribute("aria-invalid", "true");
      var described = control.getAttribute("aria-describedby");
      control.setAttribute("aria-describedby", (described ? described + " " : "") + p.id);
      first = first || control;
    });
    if (first) first.focus();
  }

  function refreshMine(whole) {
    var url = "/c/" + encodeURIComponent(cid) + "/mine?lang=" + encodeURIComponent(lang);
    return fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("my-contributions");
        var old = document.getElementById("my-contributions");
        if (!fresh || !old) return;
        if (whole) {
          old.replaceWith(fresh);
        } else {
          var list = fresh.querySelector("#my-list");
          var current = old.querySelector("#my-list");
          if (list && current) current.replaceWith(list);
        }
      });
  }

  // moderation usually decides within seconds; a person's review may take longer
  function poll(id, rounds) {
    window.setTimeout(function () {
      refreshMine(false).then(function () {
        var li = document.querySelector('#my-list li[data-comment-id="' + CSS.escape(id) + '"]');
        var state = li ? li.getAttribute("data-status") : "pending";
        if (rounds > 1 && (state === "pending" || state === "review")) poll(id, rounds - 1);
      });
    }, 2000);
  }

  function closeDetails(form) {
    var details = form.closest("details");
    if (details) details.open = false;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-enhance]") || form.hasAttribute("data-plain")) return;
    event.preventDefault();
    var submitter = event.submitter;
    var data = new URLSearchParams(new FormData(form));
    if (submitter && submitter.name) data.set(submitter.name, submitter.value);
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    clearErrors(form);
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (r) {
        return r.json().then(function (answer) { return { ok: r.ok, answer: answer }; });
      })
      .then(function (result) {
        var answer = result.answer;
        if (!result.ok) {
          say(answer.detail || answer.title || "");
          showErrors(form, answer.errors);
          return;
        }
        say(answer.message);
        if (answer.done === "comment" || answer.done === "reply") {
          form.reset();
          closeDetails(form);
          return refreshMine(true).then(function () {
            var receipt = document.getElementById("receipt");
            if (receipt) receipt.focus();
            poll(answer.id, 45);
          });
        }
        if (answer.done === "vote") {
          buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b === submitter)); });
        } else if (answer.done === "flag") {
          form.reset();
          closeDetails(form);
        }
      })
      .catch(function () {
        // the network or the answer failed: let the browser post the form itself
        buttons.forEach(function (b) { b.disabled = false; });
        form.setAttribute("data-plain", "");
        form.requestSubmit(submitter || undefined);
      })
      .finally(function () {
        buttons.forEach(function (b) { b.disabled = false; });
      });
  });
})();
