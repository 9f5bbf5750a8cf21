// List Builder's criteria builder: groups (Match all = AND, Match any = OR, Not) of criteria
// picked from a searchable list, kept as the JSON tree kith/community/criteria.py accepts in
// the form's `criteria` field, with a live count and sample from the server as it changes.
// Everything is built with textContent and value: nothing a user typed becomes markup.
"use strict";

(() => {
  const OP_WORDS = {
    eq: "is", ne: "is not", in: "is one of", not_in: "is none of", contains: "contains",
    starts_with: "starts with", lt: "is less than (before)", lte: "is at most (on or before)",
    gt: "is more than (after)", gte: "is at least (on or after)", is_empty: "is empty",
    is_not_empty: "is not empty", within_days: "is within the last N days",
  };
  const NO_VALUE = ["is_empty", "is_not_empty"];
  const LISTS = ["in", "not_in"];
  const NUMERIC = ["lt", "lte", "gt", "gte"];
  // Dates are typed as the rest of the admin shows them (2026-03-01), whatever the browser's locale.
  const DATE = { type: "text", inputMode: "numeric", pattern: "\\d{4}-\\d{2}-\\d{2}", placeholder: "YYYY-MM-DD", size: 10 };
  let vocabulary, field, root, previewUrl, previewTimer;

  function labelled(text, control) {
    control.id = control.id || uid("c");
    return el("span", {}, el("label", { htmlFor: control.id, text }), control);
  }

  function words(name) { return name.replace(/_/g, " "); }

  function kindOf(name) {
    const found = vocabulary.fields.find((f) => f.name === name);
    return found ? found.kind : "text";
  }

  // -- the tree <-> the JSON the server accepts ------------------------------------------------

  function fromCriteria(raw) {
    if (raw && raw.not !== undefined) {
      const node = fromCriteria(raw.not);
      node.negate = !node.negate;
      return node;
    }
    if (raw && (Array.isArray(raw.all) || Array.isArray(raw.any))) {
      const op = Array.isArray(raw.all) ? "all" : "any";
      return { type: "group", op, negate: false, children: raw[op].map(fromCriteria) };
    }
    if (raw && raw.activity !== undefined) {
      const types = raw.activity === "any" ? [] : [].concat(raw.activity);
      return { type: "activity", negate: false, types, min: raw.min ?? "", max: raw.max ?? "",
        within_days: raw.within_days ?? "", since: raw.since ?? "", until: raw.until ?? "",
        community: raw.community ?? "" };
    }
    if (raw && raw.field !== undefined) {
      const value = Array.isArray(raw.value) ? raw.value.join(", ") : (raw.value ?? "");
      return { type: "field", negate: false, field: raw.field, op: raw.op || "eq", value: String(value) };
    }
    if (raw && raw.member_of !== undefined) {
      return { type: "member_of", negate: false, community: raw.member_of, role: raw.role ?? "" };
    }
    return { type: "group", op: "all", negate: false, children: [] };
  }

  function number(text) {
    const value = String(text).trim();
    return value === "" ? undefined : Number(value);
  }

  function fieldValue(node) {
    const kind = kindOf(node.field);
    if (NO_VALUE.includes(node.op)) return undefined;
    if (kind === "boolean") return node.value === "true";
    if (node.op === "within_days") return number(node.value);
    if (LISTS.includes(node.op)) return node.value.split(",").map((v) => v.trim()).filter(Boolean);
    const text = node.value.trim();
    if (kind === "text" && NUMERIC.includes(node.op) && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
    return text;
  }

  function toCriteria(node) {
    let raw;
    if (node.type === "group") {
      raw = { [node.op]: node.children.map(toCriteria) };
    } else if (node.type === "activity") {
      raw = { activity: node.types.length === 0 ? "any" : node.types.length === 1 ? node.types[0] : node.types };
      for (const key of ["min", "max", "within_days"]) {
        const value = number(node[key]);
        if (value !== undefined) raw[key] = value;
      }
      for (const key of ["since", "until", "community"]) if (node[key]) raw[key] = node[key];
    } else if (node.type === "field") {
      raw = { field: node.field, op: node.op };
      const value = fieldValue(node);
      if (value !== undefined) raw.value = value;
    } else {
      raw = { member_of: node.community };
      if (node.role.trim()) raw.role = node.role.trim();
    }
    return node.negate ? { not: raw } : raw;
  }

  // -- the catalogue the "Add criterion" search filters -----------------------------------------

  function catalogue() {
    const entries = [{ label: "Activity: any activity", make: () => activity([]) }];
    for (const type of vocabulary.activity_types) {
      entries.push({ label: `Activity: ${words(type.name)}`, description: type.description,
        make: () => activity([type.name]) });
    }
    for (const f of vocabulary.fields) {
      const op = f.kind === "boolean" ? "eq" : "eq";
      entries.push({
        label: `${f.custom ? "Custom field" : "Member field"}: ${words(f.name)}`,
        make: () => ({ type: "field", negate: false, field: f.name, op, value: f.kind === "boolean" ? "true" : "" }),
      });
    }
    for (const name of vocabulary.communities) {
      entries.push({ label: `Member of: ${name}`, make: () => ({ type: "member_of", negate: false, community: name, role: "" }) });
    }
    entries.push({ label: "Group of criteria (AND / OR)", make: () => ({ type: "group", op: "any", negate: false, children: [] }) });
    return entries;
  }

  function activity(types) {
    return { type: "activity", negate: false, types, min: "1", max: "", within_days: "", since: "", until: "", community: "" };
  }

  // -- rendering -------------------------------------------------------------------------------

  function changed() {
    field.value = JSON.stringify(toCriteria(root));
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, 400);
  }

  function redraw() {
    const builder = document.getElementById("builder");
    builder.replaceChildren(renderGroup(root, null));
    changed();
  }

  function input(node, key, props = {}) {
    const control = el("input", { type: "text", value: node[key] ?? "", ...props });
    control.addEventListener("input", () => { node[key] = control.value; changed(); });
    return control;
  }

  function negateBox(node, text) {
    const box = el("input", { type: "checkbox", checked: !!node.negate, id: uid("not") });
    box.addEventListener("change", () => { node.negate = box.checked; changed(); });
    return el("label", { className: "check", htmlFor: box.id }, box, document.createTextNode(text));
  }

  function removeButton(parent, node, text) {
    const button = el("button", { type: "button", className: "secondary", text: "Remove" });
    button.setAttribute("aria-label", `Remove ${text}`);
    button.addEventListener("click", () => {
      parent.children.splice(parent.children.indexOf(node), 1);
      redraw();
    });
    return button;
  }

  function renderGroup(group, parent) {
    const box = el("div", { className: "criteria-group", role: "group" });
    const heading = parent ? "Group" : "All criteria";
    box.setAttribute("aria-label", heading);
    const head = el("div", { className: "row" });
    head.append(labelled(parent ? "This group matches members who" : "Members who",
      select([["all", "match all of these (AND)"], ["any", "match any of these (OR)"]], group.op,
        (value) => { group.op = value; changed(); })));
    head.append(negateBox(group, parent ? " Not (exclude who this group matches)" : " Not (everyone except these)"));
    if (parent) head.append(removeButton(parent, group, "this group"));
    box.append(head);
    if (group.children.length === 0) box.append(el("p", { className: "muted", text: "No criteria yet: add one below." }));
    for (const child of group.children) {
      box.append(child.type === "group" ? renderGroup(child, group) : renderCriterion(child, group));
    }
    box.append(picker(group));
    return box;
  }

  function picker(group) {
    const details = el("details", { className: "picker" });
    details.append(el("summary", { text: "Add criterion" }));
    const search = el("input", { type: "search", placeholder: "Search: post, joined, chapter…", autocomplete: "off" });
    const list = el("ul");
    const entries = catalogue();
    const show = () => {
      const wanted = search.value.trim().toLowerCase();
      list.replaceChildren(...entries
        .filter((entry) => !wanted || `${entry.label} ${entry.description || ""}`.toLowerCase().includes(wanted))
        .map((entry) => {
          const button = el("button", { type: "button", text: entry.label },
            entry.description ? el("span", { className: "muted", text: ` — ${entry.description}` }) : null);
          button.addEventListener("click", () => { group.children.push(entry.make()); redraw(); });
          return el("li", {}, button);
        }));
    };
    search.addEventListener("input", show);
    search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {  // Enter adds the first match rather than submitting the form
        event.preventDefault();
        const first = list.querySelector("button");
        if (first) first.click();
      }
    });
    show();
    details.append(labelled("Find a criterion", search), list);
    return details;
  }

  // Every type a tick box (none ticked: any activity), so several need no Ctrl-click.
  function typeChoices(node) {
    const choices = el("fieldset", { className: "type-choices" }, el("legend", { text: "Of type (none ticked: any activity)" }));
    for (const type of vocabulary.activity_types) {
      const box = el("input", { type: "checkbox", value: type.name, checked: node.types.includes(type.name), id: uid("type") });
      box.addEventListener("change", () => {
        node.types = box.checked ? [...node.types, type.name] : node.types.filter((name) => name !== type.name);
        changed();
      });
      choices.append(el("label", { className: "check", htmlFor: box.id, title: type.description }, box,
        document.createTextNode(` ${words(type.name)}`)));
    }
    return choices;
  }

  function renderCriterion(node, parent) {
    const box = el("div", { className: "criterion", role: "group" });
    const what = el("div", { className: "what" });
    box.append(what);
    if (node.type === "activity") {
      what.textContent = "Activity";
      box.setAttribute("aria-label", "Activity criterion");
      box.append(typeChoices(node));
      box.append(labelled("At least (times)", input(node, "min", { type: "number", min: "0" })));
      box.append(labelled("At most (times; 0: none)", input(node, "max", { type: "number", min: "0" })));
      box.append(labelled("In the last (days)", input(node, "within_days", { type: "number", min: "1" })));
      box.append(labelled("Since (YYYY-MM-DD)", input(node, "since", DATE)));
      box.append(labelled("Until, before (YYYY-MM-DD)", input(node, "until", DATE)));
      box.append(labelled("In community", select([["", "any community"], ...vocabulary.communities.map((c) => [c, c])],
        node.community, (value) => { node.community = value; changed(); })));
    } else if (node.type === "field") {
      const kind = kindOf(node.field);
      what.textContent = `Field: ${words(node.field)}`;
      box.setAttribute("aria-label", `Field criterion on ${node.field}`);
      const ops = vocabulary.ops[kind].map((op) => [op, OP_WORDS[op] || op]);
      box.append(labelled("Test", select(ops, node.op, (value) => { node.op = value; redraw(); })));
      if (kind === "boolean") {
        box.append(labelled("Value", select([["true", "yes"], ["false", "no"]], node.value,
          (value) => { node.value = value; changed(); })));
      } else if (!NO_VALUE.includes(node.op)) {
        const date = kind === "date" && !LISTS.includes(node.op) && node.op !== "within_days";
        const hint = LISTS.includes(node.op) ? "Values (comma-separated)" : node.op === "within_days" ? "Days"
          : date ? "Value (YYYY-MM-DD)" : "Value";
        box.append(labelled(hint, input(node, "value", date ? DATE : { type: node.op === "within_days" ? "number" : "text" })));
      }
    } else {
      what.textContent = "Member of a community";
      box.setAttribute("aria-label", "Community membership criterion");
      box.append(labelled("Community", select(vocabulary.communities.map((c) => [c, c]), node.community,
        (value) => { node.community = value; changed(); })));
      box.append(labelled("With the role (optional)", input(node, "role")));
    }
    box.append(negateBox(node, " Not"));
    box.append(removeButton(parent, node, what.textContent));
    return box;
  }

  // -- the live count ---------------------------------------------------------------------------

  async function runPreview() {
    const region = document.getElementById("list-preview");
    const criteria = toCriteria(root);
    if (root.children.length === 0) {
      showCount(region, 0, [], "Add a criterion to choose who is in the list.");
      return;
    }
    try {
      const response = await fetch(previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Accept": "application/json",
          "Content-Type": "application/json",
          "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content,
        },
        body: JSON.stringify({ criteria }),
      });
      const data = await response.json();
      if (!response.ok) {
        region.replaceChildren(el("p", { className: "alert error", text: data.message || `Error ${response.status}` }));
        return;
      }
      showCount(region, data.count ?? 0, data.sample ?? [], "Nobody matches these criteria now.");
    } catch (error) {
      region.replaceChildren(el("p", { className: "alert error", text: `The count failed: ${error}` }));
    }
  }

  // The count (0 when nothing matches or nothing is chosen yet), a sample, or `hint` when none.
  function showCount(region, total, members, hint) {
    const count = el("p", {}, el("strong", { id: "preview-count", text: total.toLocaleString("en") }),
      document.createTextNode(total === 1 ? " member matches now." : " members match now."));
    const sample = el("ul", { id: "preview-sample" });
    for (const member of members) {
      sample.append(el("li", { text: `${member.name || member.contact_key} (${member.email || "no email"})` }));
    }
    const note = el("p", { className: "muted", text: members.length ? "For example:" : hint });
    region.replaceChildren(count, note, sample);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const builder = document.querySelector(".criteria-builder");
    if (!builder) return;
    vocabulary = JSON.parse(document.getElementById("vocabulary").textContent);
    previewUrl = builder.dataset.preview;
    field = document.getElementById("criteria");
    const load = () => {
      let raw;
      try { raw = JSON.parse(field.value || "{}"); } catch (error) { return false; }
      root = fromCriteria(raw);
      if (root.type !== "group" || root.negate) root = { type: "group", op: "all", negate: false, children: [root] };
      return true;
    };
    if (!load()) root = { type: "group", op: "all", negate: false, children: [] };
    field.addEventListener("change", () => { if (load()) redraw(); });
    redraw();
  });
})();
