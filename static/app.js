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

// A problem's "line N" puts the editor's cursor at the start of that line
// and scrolls it into view.
document.addEventListener("click", function (event) {
  var button = event.target instanceof Element ? event.target.closest("[data-line]") : null;
  var editor = document.getElementById("spec-text");
  if (!button || !(editor instanceof HTMLTextAreaElement)) {
    return;
  }
  var line = parseInt(button.getAttribute("data-line"), 10);
  var lines = editor.value.split("\n");
  var start = 0;
  for (var i = 0; i < line - 1 && i < lines.length; i++) {
    start += lines[i].length + 1;
  }
  var end = start + (lines[line - 1] || "").length;
  editor.focus();
  editor.setSelectionRange(start, end);
  var lineHeight = parseFloat(getComputedStyle(editor).lineHeight) || 18;
  editor.scrollTop = Math.max(0, (line - 3) * lineHeight);
});
