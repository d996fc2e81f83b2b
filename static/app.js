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

// The spec editor and the Tab key. By default Tab leaves the editor like any
// other field, so a keyboard user is never trapped in it. Indenting with Tab
// is asked for: the "Tab key" button beside the editor, or Ctrl+M (the
// convention of GitHub's editors). While it is on, Tab inserts two spaces
// (YAML has no tabs) and Shift+Tab removes up to two at the line's start;
// Escape, the button or Ctrl+M again give Tab back to the page. The choice is
// kept for the tab of the browser, so the form htmx swaps in after a failed
// save keeps it.
var TAB_MODE_KEY = "slipway.editor.tabIndents";

function tabIndents() {
  try {
    return window.sessionStorage.getItem(TAB_MODE_KEY) === "1";
  } catch (_) {
    return false;
  }
}

function setTabIndents(on) {
  try {
    window.sessionStorage.setItem(TAB_MODE_KEY, on ? "1" : "0");
  } catch (_) {
    // Storage refused (private mode): the button still shows the mode.
  }
  showTabMode();
}

function showTabMode() {
  var button = document.getElementById("tab-mode");
  if (!button) {
    return;
  }
  var on = tabIndents();
  button.setAttribute("aria-pressed", on ? "true" : "false");
  var state = document.getElementById("tab-mode-state");
  if (state) {
    state.textContent = on ? "Tab indents in the editor · Esc to leave" : "Tab moves focus";
  }
}

document.addEventListener("DOMContentLoaded", showTabMode);
document.addEventListener("htmx:afterSettle", showTabMode);

document.addEventListener("click", function (event) {
  var button = event.target instanceof Element ? event.target.closest("#tab-mode") : null;
  if (button) {
    setTabIndents(!tabIndents());
    var editor = document.getElementById("spec-text");
    if (editor) {
      editor.focus();
    }
  }
});

// Inserts `text` in place of the selection, through the browser's editing
// command when it has one so that undo (Ctrl+Z) takes it back.
function insertInEditor(editor, text) {
  if (!document.execCommand || !document.execCommand("insertText", false, text)) {
    editor.setRangeText(text, editor.selectionStart, editor.selectionEnd, "end");
    editor.dispatchEvent(new Event("input", { bubbles: true }));
  }
}

document.addEventListener("keydown", function (event) {
  var editor = event.target;
  if (!(editor instanceof HTMLTextAreaElement) || editor.id !== "spec-text") {
    return;
  }
  if (event.key === "m" && event.ctrlKey && !event.altKey && !event.metaKey) {
    event.preventDefault();
    setTabIndents(!tabIndents());
    return;
  }
  if (!tabIndents()) {
    return;
  }
  if (event.key === "Escape") {
    event.preventDefault();
    setTabIndents(false);
    return;
  }
  if (event.key !== "Tab" || event.ctrlKey || event.altKey || event.metaKey) {
    return;
  }
  event.preventDefault();
  if (!event.shiftKey) {
    insertInEditor(editor, "  ");
    return;
  }
  var value = editor.value;
  var lineStart = value.lastIndexOf("\n", editor.selectionStart - 1) + 1;
  var lead = value.slice(lineStart, lineStart + 2).match(/^ {1,2}/);
  if (lead) {
    var caret = editor.selectionStart;
    editor.setSelectionRange(lineStart, lineStart + lead[0].length);
    insertInEditor(editor, "");
    var back = Math.max(lineStart, caret - lead[0].length);
    editor.setSelectionRange(back, back);
  }
});

// A table or block that scrolls sideways (wide tables on a phone, the audit
// log) must be reachable from the keyboard, or its hidden columns can only
// be seen with a mouse. Whatever scrolls and holds nothing focusable becomes
// a tab stop itself (arrow keys then scroll it); it stops being one when the
// window grows wide enough to show it whole.
function keyboardScrollable() {
  var candidates = document.querySelectorAll("table.list, .card, pre, nav.tabs");
  for (var i = 0; i < candidates.length; i++) {
    var el = candidates[i];
    var scrolls = el.scrollWidth > el.clientWidth + 1 || (el.tagName === "PRE" && el.scrollHeight > el.clientHeight + 1);
    var marked = el.getAttribute("data-scroll-stop") === "1";
    if (scrolls && !marked && !el.hasAttribute("tabindex") && !el.querySelector("a[href], button, input, select, textarea, [tabindex]")) {
      el.setAttribute("tabindex", "0");
      el.setAttribute("data-scroll-stop", "1");
    } else if (!scrolls && marked) {
      el.removeAttribute("tabindex");
      el.removeAttribute("data-scroll-stop");
    }
  }
}
var scrollableTimer = null;
function keyboardScrollableSoon() {
  window.clearTimeout(scrollableTimer);
  scrollableTimer = window.setTimeout(keyboardScrollable, 100);
}
document.addEventListener("DOMContentLoaded", keyboardScrollable);
document.addEventListener("htmx:afterSettle", keyboardScrollable);
window.addEventListener("resize", keyboardScrollableSoon);
