// The mailing editor: bodies with line numbers, their template problems marked at their lines,
// and a picker that writes a personalization field where the cursor was. The page works without
// this script (the problems are listed in words, each linked to its field).
//
// <textarea data-line-numbers data-error-lines="2 5">: a gutter of line numbers beside it, the
// lines named marked in the gutter and across the text.
// <a data-part="html" data-line="2">: selects that line of that field.
// #field-picker (shown by this script): inserts {{ field }} into the [data-personalized] field
// last focused (the HTML body at first).
"use strict";

function lineHeight(area) {
  return parseFloat(getComputedStyle(area).lineHeight);
}

function padTop(area) {
  return parseFloat(getComputedStyle(area).paddingTop);
}

function numberLines(area, gutter, bad) {
  const count = area.value.split("\n").length;
  const numbers = [];
  for (let line = 1; line <= count; line += 1) {
    const number = document.createElement("span");
    number.textContent = String(line);
    if (bad.has(line)) number.className = "bad";
    numbers.push(number);
  }
  gutter.replaceChildren(...numbers);
}

function placeMarks(area, marks) {
  const height = lineHeight(area);
  for (const mark of marks) {
    const top = area.offsetTop + padTop(area) + (mark.line - 1) * height - area.scrollTop;
    mark.element.style.top = `${top}px`;
    mark.element.style.left = `${area.offsetLeft}px`;
    mark.element.style.height = `${height}px`;
    const inside = top >= area.offsetTop && top + height <= area.offsetTop + area.clientHeight;
    mark.element.hidden = !inside;
  }
}

function withLineNumbers(area) {
  const bad = new Set((area.dataset.errorLines || "").split(" ").filter(Boolean).map(Number));
  const editor = document.createElement("div");
  editor.className = "code-editor";
  const gutter = document.createElement("div");
  gutter.className = "gutter";
  gutter.setAttribute("aria-hidden", "true");
  area.replaceWith(editor);
  editor.append(gutter, area);
  const marks = [...bad].map((line) => {
    const element = document.createElement("div");
    element.className = "line-mark";
    element.setAttribute("aria-hidden", "true");
    editor.append(element);
    return { line, element };
  });
  const follow = () => {
    gutter.scrollTop = area.scrollTop;
    placeMarks(area, marks);
  };
  numberLines(area, gutter, bad);
  follow();
  area.addEventListener("input", () => { numberLines(area, gutter, bad); follow(); });
  area.addEventListener("scroll", follow);
}

function selectLine(field, line) {
  const lines = field.value.split("\n");
  const at = Math.min(Math.max(line, 1), lines.length) - 1;
  const start = lines.slice(0, at).reduce((sum, text) => sum + text.length + 1, 0);
  field.focus();
  field.setSelectionRange(start, start + lines[at].length);
  if (field.tagName === "TEXTAREA") {
    field.scrollTop = Math.max(0, at * lineHeight(field) - field.clientHeight / 3);
    field.dispatchEvent(new Event("scroll"));
  }
}

function offerFields(picker) {
  const fields = [...document.querySelectorAll("[data-personalized]")];
  let last = document.getElementById("html") || fields[0];
  fields.forEach((field) => field.addEventListener("focus", () => { last = field; }));
  picker.hidden = false;
  document.getElementById("insert-field").addEventListener("click", () => {
    const chosen = document.getElementById("field-choice").value;
    last.setRangeText(`{{ ${chosen} }}`, last.selectionStart, last.selectionEnd, "end");
    last.focus();
    last.dispatchEvent(new Event("input"));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("textarea[data-line-numbers]").forEach(withLineNumbers);
  document.querySelectorAll("a[data-part]").forEach((link) => link.addEventListener("click", (event) => {
    const field = document.getElementById(link.dataset.part);
    if (!field) return;
    event.preventDefault();
    selectLine(field, Number(link.dataset.line) || 1);
  }));
  const picker = document.getElementById("field-picker");
  if (picker) offerFields(picker);
});
