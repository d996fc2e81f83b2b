// Slipway's own script: behaviour that must not live in inline handlers, which
// the Content-Security-Policy (script-src 'self') refuses to run.
"use strict";

// A secret shown once (API token, hook or notification secret) is selected on
// focus, so one click and a copy take it whole.
document.addEventListener("focusin", function (event) {
  var target = event.target;
  if (target instanceof HTMLInputElement && target.hasAttribute("data-select-on-focus")) {
    target.select();
  }
});
