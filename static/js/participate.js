// The conversation page's small conveniences; everything works without them.
(function () {
  "use strict";

  // Live character count for textareas with data-max-length; the count sits in
  // the element whose id is the textarea's id + "-count".
  document.addEventListener("input", function (event) {
    var field = event.target;
    if (!(field instanceof HTMLTextAreaElement) || !field.dataset.maxLength) return;
    var count = document.getElementById(field.id + "-count");
    if (!count) return;
    var length = field.value.trim().length;
    var max = Number(field.dataset.maxLength);
    count.querySelector("[data-count]").textContent = String(length);
    count.classList.toggle("over", length > max);
  });

  // A / D / P vote on the card, unless the person is typing somewhere.
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    var target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable], summary")) return;
    var button = document.querySelector('#vote-form button[data-shortcut="' + event.key.toLowerCase() + '"]');
    if (!button || button.disabled) return;
    event.preventDefault();
    button.click();
  });

  // After a vote the buttons that had focus are gone: put focus on the new statement
  // (or the end-of-voting heading) so keyboard and screen-reader users carry on from there.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail.target || event.detail.target.id !== "card") return;
    var next = document.getElementById("statement-text") || document.getElementById("end-heading");
    if (next) next.focus({ preventScroll: false });
  });

  var requestError = function (message) {
    var slot = document.getElementById("request-error");
    if (!slot) return;
    slot.textContent = message;
    slot.hidden = !message;
  };
  document.addEventListener("htmx:beforeRequest", function () { requestError(""); });
  document.addEventListener("htmx:sendError", function () {
    requestError("Agora could not be reached, so nothing was saved. Check your connection and try again.");
  });
  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr.status >= 500) {
      requestError("Something went wrong on our side, so nothing was saved. Please try again.");
    }
  });
})();
