// The small DOM kit of the editors (listbuilder.js, designer.js, scoring.js), loaded before them.
// Everything is built with textContent and properties: nothing a user typed becomes markup.
"use strict";

let idCounter = 0;

// An id no other element built on this page has: `${prefix}-N`.
function uid(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// An element: `text` becomes its textContent, a property it has is set as one (but `list`,
// read-only on inputs), anything else (aria-*, data-*) as an attribute; then its children.
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key in node && key !== "list") node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// A drop-down of [value, words] options with `current` chosen, telling `onChange` the new value.
function select(options, current, onChange, props = {}) {
  const control = el("select", props);
  for (const [value, text] of options) control.append(el("option", { value, text, selected: value === current }));
  control.addEventListener("change", () => onChange(control.value));
  return control;
}
