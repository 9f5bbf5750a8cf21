// The scoring editor: rules as rows (what is counted, in which window, points and cap) and
// grades as a table of thresholds, kept as the model kith/marketing/scoring/model.py accepts in
// the form's `model` field, with a preview from the server of what the draft would give.
// The server is the one judge of a model: its refusal is shown next to the field at fault.
// Everything is built with textContent and value: nothing a user typed becomes markup.
"use strict";

(() => {
  const KINDS = [
    ["activity", "Community activity"],
    ["open", "Mailings opened"],
    ["click", "Mailings clicked"],
    ["group", "Being in a group"],
    ["field", "A field's value"],
  ];
  const POINTS_WORDS = {
    activity: "Points per event", open: "Points per mailing opened",
    click: "Points per mailing clicked", group: "Points for being in it", field: "Points for holding it",
  };
  const WINDOWED = ["activity", "open", "click"];
  const RULE_KEYS = ["name", "activity", "mailing", "group", "field", "value", "points", "cap", "within_days"];
  let choices, textBox, form, previewUrl, previewTimer;
  const model = { rules: [], grades: [] };

  function plainName(type) {
    const words = type.replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  // -- the rows <-> the model the server accepts ----------------------------------------------

  function fromRule(raw) {
    const rule = { name: raw.name ?? "", types: [], group: "", field: "", value: "", points: text(raw.points),
      cap: text(raw.cap), within_days: text(raw.within_days) };
    if (raw.mailing !== undefined) rule.kind = String(raw.mailing);
    else if (raw.group !== undefined) { rule.kind = "group"; rule.group = String(raw.group); }
    else if (raw.field !== undefined) { rule.kind = "field"; rule.field = text(raw.field); rule.value = text(raw.value); }
    else { rule.kind = "activity"; rule.types = raw.activity === "any" ? [] : [].concat(raw.activity ?? []); }
    return rule;
  }

  function text(value) { return value === undefined || value === null ? "" : String(value); }

  // A whole number as a number; anything else as typed, for the server to refuse with a reason.
  function number(typed) {
    const value = typed.trim();
    if (value === "") return undefined;
    return /^\d+$/.test(value) ? Number(value) : value;
  }

  function toRule(rule) {
    const raw = {};
    if (rule.name.trim()) raw.name = rule.name.trim();
    if (rule.kind === "activity") raw.activity = rule.types.length === 0 ? "any" : [...rule.types];
    else if (rule.kind === "group") raw.group = rule.group;
    else if (rule.kind === "field") { raw.field = rule.field; raw.value = rule.value; }
    else raw.mailing = rule.kind;
    for (const key of ["points", "cap", ...(WINDOWED.includes(rule.kind) ? ["within_days"] : [])]) {
      const value = number(rule[key]);
      if (value !== undefined) raw[key] = value;
    }
    return raw;
  }

  function toModel() {
    return {
      rules: model.rules.map(toRule),
      grades: model.grades.map((grade) => ({ grade: grade.grade.trim(), min_score: number(grade.min_score) ?? "" })),
    };
  }

  // Text the rows can show without dropping anything; other text stays text, to be mended.
  function showable(raw) {
    const only = (item, keys) => item && typeof item === "object" && !Array.isArray(item)
      && Object.keys(item).every((key) => keys.includes(key));
    const kindOk = (rule) => {
      const kinds = ["activity", "mailing", "group", "field"].filter((key) => key in rule);
      if (kinds.length !== 1 || !["undefined", "string"].includes(typeof rule.name)) return false;
      if (kinds[0] === "mailing") return ["open", "click"].includes(rule.mailing);
      if (kinds[0] === "activity") return [].concat(rule.activity).every((type) => typeof type === "string");
      return typeof rule[kinds[0]] === "string";
    };
    return raw && Array.isArray(raw.rules) && Array.isArray(raw.grades)
      && only(raw, ["rules", "grades", "version", "updated_at"])
      && raw.rules.every((rule) => only(rule, RULE_KEYS) && kindOk(rule))
      && raw.grades.every((grade) => only(grade, ["grade", "min_score"]));
  }

  function load() {
    let raw;
    try { raw = JSON.parse(textBox.value); } catch (error) { return false; }
    if (!showable(raw)) return false;
    model.rules = raw.rules.map(fromRule);
    model.grades = raw.grades.map((grade) => ({ grade: text(grade.grade), min_score: text(grade.min_score) }));
    return true;
  }

  // -- what changed, and the server's word on it --------------------------------------------

  function changed() {
    textBox.value = JSON.stringify(toModel(), null, 2);
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, 400);
  }

  function fieldId(part, position, key) { return key ? `${part}-${position}-${key}` : `${part}-${position}`; }

  function showRefusal(found) {
    for (const old of document.querySelectorAll(".field-error")) old.textContent = "";
    for (const old of document.querySelectorAll("[aria-invalid]")) old.removeAttribute("aria-invalid");
    if (!found) return null;
    const at = found.at;
    const key = at && at.key === "mailing" ? "kind" : at && at.key;
    const slot = at && (document.getElementById(`${fieldId(at.part, at.position, key)}-error`)
      || document.getElementById(`${fieldId(at.part, at.position)}-error`));
    if (!slot) return null;
    slot.textContent = found.reason;
    const control = document.getElementById(slot.id.replace(/-error$/, ""));
    if (control) control.setAttribute("aria-invalid", "true");
    return control;
  }

  async function askServer() {
    const response = await fetch(previewUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { ...jsonHeaders(), "Content-Type": "application/json" },  // kith.js
      body: JSON.stringify({ model: toModel() }),
    });
    return { ok: response.ok, data: await response.json() };
  }

  async function runPreview() {
    const region = document.getElementById("scoring-preview");
    try {
      const { ok, data } = await askServer();
      showRefusal(ok ? null : data);
      region.replaceChildren(...(ok ? previewOf(data) : [el("p", { className: "alert error", text: data.message })]));
    } catch (error) {
      region.replaceChildren(el("p", { className: "alert error",
        text: "The preview could not be made: the server did not answer. Saving still checks the model first." }));
    }
  }

  function previewOf(data) {
    const total = el("p", { id: "preview-scored", text: `${data.scored.toLocaleString("en")} subscribers would be scored.` });
    const headings = ["Grade", "From score", "Group", "Subscribers"];
    const table = el("table", { id: "preview-grades", className: "stack" }, el("caption", { text: "How many each grade would hold" }),
      el("thead", {}, el("tr", {}, ...headings.map((heading, n) =>
        el("th", { scope: "col", className: n === 3 ? "number" : "", text: heading })))));
    const row = (...cells) => el("tr", {}, ...cells.map((cell, n) =>
      el("td", { "data-label": headings[n], className: n === 3 ? "number" : "", text: cell })));
    const body = el("tbody");
    for (const grade of data.grades) {
      body.append(row(grade.grade, String(grade.min_score), grade.group, grade.subscribers.toLocaleString("en")));
    }
    body.append(row("No grade", "", "—", data.ungraded.toLocaleString("en")));
    table.append(body);
    return [total, histogram(data.bars), table];
  }

  // The scores as bars of plain HTML: each bar's height is its share of the tallest.
  function histogram(bars) {
    const most = Math.max(1, ...bars.map((bar) => bar.subscribers));
    const list = el("ul", { className: "histogram", id: "preview-histogram" });
    list.setAttribute("aria-label", "Subscribers by score");
    for (const bar of bars) {
      const range = bar.low === bar.high ? `${bar.low}` : `${bar.low}–${bar.high}`;
      const fill = el("span", { className: "bar" });
      fill.style.height = `${Math.round((bar.subscribers / most) * 100)}%`;
      list.append(el("li", { title: `Score ${range}: ${bar.subscribers} subscribers` },
        el("span", { className: "count", text: bar.subscribers.toLocaleString("en") }),
        el("span", { className: "column" }, fill),
        el("span", { className: "range", text: range })));
    }
    return el("figure", { className: "scores" }, list, el("figcaption", { className: "muted", text: "Subscribers by score" }));
  }

  // -- rendering ------------------------------------------------------------------------------

  // Where the server's reason for refusing the field with the id `id` is shown.
  function errorSlot(id) {
    const slot = el("small", { className: "field-error error-text", id: `${id}-error` });
    slot.setAttribute("aria-live", "polite");
    return slot;
  }

  function labelled(text, control, hint, { hidden = false } = {}) {
    control.id = control.id || uid("c");
    const error = errorSlot(control.id);
    const described = [error.id];
    const parts = [el("label", { htmlFor: control.id, className: hidden ? "visually-hidden" : "", text }), control];
    if (hint) {
      const note = el("small", { className: "muted", id: `${control.id}-hint`, text: hint });
      described.push(note.id);
      parts.push(note);
    }
    control.setAttribute("aria-describedby", described.join(" "));
    return el("span", { className: "field" }, ...parts, error);
  }

  function input(holder, key, id, props = {}) {
    const control = el("input", { type: "text", value: holder[key], id, ...props });
    control.addEventListener("input", () => { holder[key] = control.value; changed(); });
    return control;
  }

  function whole(holder, key, id) { return input(holder, key, id, { inputMode: "numeric", className: "whole" }); }

  function renderRules() {
    const box = document.getElementById("rules");
    box.replaceChildren(...model.rules.map(renderRule));
    if (model.rules.length === 0) box.append(el("p", { className: "muted", text: "No rules yet: add one below." }));
  }

  function renderRule(rule, index) {
    const position = index + 1;
    const id = (key) => fieldId("rule", position, key);
    const row = el("fieldset", { className: "scoring-rule", id: id() });
    row.append(el("legend", { text: `Rule ${position}` }));
    const rowError = errorSlot(id());
    const fields = el("div", { className: "row" });
    fields.append(labelled("Name", input(rule, "name", id("name")), "Empty: named after what it counts"));
    fields.append(labelled("Counts", select(KINDS, rule.kind,
      (value) => {
        rule.kind = value;
        if (value === "group" && !rule.group) rule.group = choices.groups[0] || "";
        redrawRule(row, rule, index);
      }, { id: id("kind") })));
    if (rule.kind === "activity") fields.append(typePicker(rule, id("activity")));
    if (rule.kind === "group") {
      const groups = [...new Set([...choices.groups, rule.group].filter(Boolean))];
      fields.append(labelled("Group", select(groups.map((name) => [name, name]), rule.group,
        (value) => { rule.group = value; changed(); }, { id: id("group") })));
    }
    if (rule.kind === "field") {
      fields.append(labelled("Field", input(rule, "field", id("field")), "A personalization field"));
      fields.append(labelled("Holds", input(rule, "value", id("value")), "In any case"));
    }
    fields.append(labelled(POINTS_WORDS[rule.kind], whole(rule, "points", id("points"))));
    fields.append(labelled("At most (points)", whole(rule, "cap", id("cap")), "Empty: no limit"));
    if (WINDOWED.includes(rule.kind)) {
      fields.append(labelled("In the last (days)", whole(rule, "within_days", id("within_days")), "Empty: ever"));
    }
    fields.append(removeButton(model.rules, index, `rule ${position}`, renderRules, "add-rule"));
    row.append(rowError, fields);
    return row;
  }

  // Removing a row puts the focus on the button that adds one, which stays where it was.
  function removeButton(rows, index, what, render, addId) {
    const button = el("button", { type: "button", className: "secondary", text: "Remove" });
    button.setAttribute("aria-label", `Remove ${what}`);
    button.addEventListener("click", () => {
      rows.splice(index, 1);
      render();
      changed();
      document.getElementById(addId).focus();
    });
    return button;
  }

  // A rule whose kind changed gets the fields of its new kind; the focus stays on the kind.
  function redrawRule(row, rule, index) {
    row.replaceWith(renderRule(rule, index));
    changed();
    document.getElementById(fieldId("rule", index + 1, "kind")).focus();
  }

  // Activity types as checkboxes in a disclosure whose summary names those chosen.
  function typePicker(rule, id) {
    const known = [...new Set([...choices.activity_types, ...rule.types])];
    const details = el("details", { className: "types" });
    const summary = el("summary", { id });
    const say = () => {
      summary.textContent = `Activity: ${rule.types.length ? rule.types.map(plainName).join(", ") : "any activity"}`;
    };
    say();
    details.append(summary);
    const box = el("fieldset", {}, el("legend", { text: "Which activity counts" }));
    const any = el("input", { type: "checkbox", checked: rule.types.length === 0, id: uid("any") });
    const boxes = known.map((type) => el("input", { type: "checkbox", value: type, checked: rule.types.includes(type), id: uid("type") }));
    const update = (changedBox) => {
      if (changedBox === any && any.checked) for (const each of boxes) each.checked = false;
      rule.types = boxes.filter((each) => each.checked).map((each) => each.value);
      any.checked = rule.types.length === 0;
      say();
      changed();
    };
    any.addEventListener("change", () => update(any));
    box.append(el("label", { htmlFor: any.id }, any, document.createTextNode(" Any activity")));
    known.forEach((type, n) => {
      boxes[n].addEventListener("change", () => update(boxes[n]));
      box.append(el("label", { htmlFor: boxes[n].id }, boxes[n], document.createTextNode(` ${plainName(type)}`)));
    });
    if (known.length === 0) box.append(el("p", { className: "muted", text: "No activity has been pulled from the community yet." }));
    details.append(box);
    const error = errorSlot(id);
    summary.setAttribute("aria-describedby", error.id);
    return el("span", { className: "field" }, details, error);
  }

  function renderGrades() {
    const body = document.querySelector("#grades tbody");
    body.replaceChildren(...model.grades.map(renderGrade));
  }

  function renderGrade(grade, index) {
    const position = index + 1;
    const id = (key) => fieldId("grade", position, key);
    const name = input(grade, "grade", id("grade"));
    const from = whole(grade, "min_score", id("min_score"));
    const group = el("td", { "data-label": "Its group", text: `${choices.grade_group_prefix}${grade.grade.trim()}` });
    name.addEventListener("input", () => { group.textContent = `${choices.grade_group_prefix}${grade.grade.trim()}`; });
    const remove = removeButton(model.grades, index, `grade ${position}`, renderGrades, "add-grade");
    const cell = (label, control) => el("td", { "data-label": label },
      labelled(`Grade ${position}: ${label.toLowerCase()}`, control, "", { hidden: true }));
    return el("tr", { id: id() }, cell("Grade", name), cell("From score", from), group,
      el("td", {}, remove, errorSlot(id())));
  }

  function redraw() {
    renderRules();
    renderGrades();
    changed();
  }

  // Enter in a field shows the preview instead of saving; Escape closes an open type picker.
  function onKey(event) {
    const inField = event.target.matches("input[type=text], select");
    if (event.key === "Enter" && inField) {
      event.preventDefault();
      clearTimeout(previewTimer);
      runPreview();
    } else if (event.key === "Escape") {
      const open = event.target.closest("details.types[open]");
      if (open) {
        open.open = false;
        open.querySelector("summary").focus();
      }
    }
  }

  // Saving asks the server first, so a refusal lands next to its field without a reload.
  async function onSubmit(event) {
    if (document.getElementById("scoring-form-fields").hidden) return;  // sent as text
    event.preventDefault();
    clearTimeout(previewTimer);
    textBox.value = JSON.stringify(toModel(), null, 2);
    let answer;
    try { answer = await askServer(); } catch (error) { form.submit(); return; }
    if (answer.ok) { form.submit(); return; }
    const control = showRefusal(answer.data);
    const region = document.getElementById("scoring-preview");
    region.replaceChildren(el("p", { className: "alert error", text: answer.data.message }));
    (control || region).focus();
  }

  document.addEventListener("DOMContentLoaded", () => {
    form = document.getElementById("scoring-form");
    if (!form) return;
    choices = JSON.parse(document.getElementById("scoring-choices").textContent);
    previewUrl = form.dataset.preview;
    textBox = document.getElementById("model");
    const text = document.getElementById("model-text");
    textBox.addEventListener("change", () => {
      const fields = document.getElementById("scoring-form-fields");
      fields.hidden = !load();  // the text alone is the editor until the rows can show it
      if (!fields.hidden) redraw();
    });
    document.getElementById("add-rule").addEventListener("click", () => {
      model.rules.push({ name: "", kind: "activity", types: [], group: "", field: "", value: "", points: "1", cap: "", within_days: "" });
      redraw();
      document.getElementById(fieldId("rule", model.rules.length, "name")).focus();
    });
    document.getElementById("add-grade").addEventListener("click", () => {
      model.grades.push({ grade: "", min_score: "" });
      redraw();
      document.getElementById(fieldId("grade", model.grades.length, "grade")).focus();
    });
    form.addEventListener("keydown", onKey);
    form.addEventListener("submit", onSubmit);
    if (!load()) return;  // text the form cannot show: it stays open to be mended
    text.open = false;
    document.getElementById("scoring-form-fields").hidden = false;
    renderRules();
    renderGrades();
    const shown = showRefusal(JSON.parse(document.getElementById("scoring-refusal").textContent));
    if (shown) shown.focus();
    changed();
  });
})();
