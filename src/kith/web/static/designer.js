// The campaign designer: the campaign's settings as fields and its steps as cards, top to
// bottom, a Decide branching into Yes and No. It edits the campaign as the form's `definition`
// field holds it (the text of a campaign file, kith/marketing/campaigns/definition.py), so
// what it saves is what the command line reads and prints; the server checks it and names the
// step or setting at fault, which the designer shows on that card or next to that field.
// Everything is built with textContent and value: nothing a user typed becomes markup.
"use strict";

(() => {
  const KINDS = ["mailing", "wait", "decide", "notify", "profile", "end"];
  const TITLES = { mailing: "Mailing", wait: "Wait", decide: "Decide", notify: "Notify", profile: "Profile", end: "End" };
  const MODES = [["at_once", "Who is in the group now"], ["over_time", "Who enters the group from now on"],
    ["both", "Both: who is in it now and who enters from now on"]];
  const UNITS = ["days", "hours", "minutes"];
  const DECIDE_AFTER_WAIT = "A Decide comes right after a Wait: people wait first, then the campaign looks at what they did.";
  const LAST_IN_LIST = "Decide and End are the last step of their list: add them after the last step, or inside a branch.";
  let data, doc, field, root, summary, checkTimer;
  let serverError = null;  // {message, step, field, setting} of the save the server refused
  const keys = new WeakMap();  // step -> a key that outlives edits of its id
  const open = new Set();  // keys of the cards whose settings are shown
  let menuAt = null;  // the key of the place whose "Add a step" menu is shown

  function keyOf(step) { if (!keys.has(step)) keys.set(step, uid("step")); return keys.get(step); }

  function labelled(text, control, help) {
    control.id = control.id || uid("field");
    const box = el("p", { className: "designer-field" }, el("label", { htmlFor: control.id, text }), control);
    if (help) {
      const note = el("span", { className: "muted", id: uid("help"), text: help });
      control.setAttribute("aria-describedby", note.id);
      box.append(note);
    }
    return box;
  }

  function textInput(value, onInput, props = {}) {
    const control = el("input", { type: "text", value: value ?? "", ...props });
    control.addEventListener("input", () => onInput(control.value));
    return control;
  }

  function kindOf(step) { return KINDS.find((kind) => kind in step) || "end"; }
  function quoted(name) { return name ? `“${name}”` : "(none picked yet)"; }

  // -- the campaign's settings -------------------------------------------------------------

  function settings() {
    const box = el("fieldset", { className: "card designer-settings" }, el("legend", { text: "Campaign" }));
    if (!isObject(doc.activation)) doc.activation = { group: "", mode: "both" };
    box.append(settingField("name", labelled("Name", textInput(doc.name, (value) => { doc.name = value; changed(); },
      { required: true, maxLength: 200, autocomplete: "off" }))));
    const groups = [["", "Pick a group"], ...data.groups.map((g) => [g.name, g.name])];
    if (doc.activation.group && !data.groups.some((g) => g.name === doc.activation.group)) groups.push([doc.activation.group, doc.activation.group]);
    box.append(settingField("activation", labelled("Group that activates it", select(groups, doc.activation.group,
      (value) => { doc.activation.group = value; changed(); }))));
    const who = el("fieldset", { className: "designer-who" }, el("legend", { text: "Who enters the campaign" }));
    const mode = doc.activation.mode || "both";
    const name = uid("mode");
    for (const [value, text] of MODES) {
      const radio = el("input", { type: "radio", name, value, checked: value === mode, id: uid("mode") });
      radio.addEventListener("change", () => { doc.activation.mode = value; changed(); });
      who.append(el("label", { className: "check", htmlFor: radio.id }, radio, document.createTextNode(` ${text}`)));
    }
    box.append(who);
    const dates = el("div", { className: "row" });
    dates.append(settingField("starts_at", labelled("Starts (UTC; empty: when activated)", instant("starts_at"))));
    dates.append(settingField("stops_at", labelled("Stops (UTC; empty: never)", instant("stops_at"))));
    box.append(dates);
    return box;
  }

  // A date and time field for starts_at / stops_at: shown in UTC; kept as written until changed.
  function instant(key) {
    const written = doc[key];
    const shown = typeof written === "string" && /(Z|\+00:00)$/.test(written) ? written.slice(0, 16) : "";
    return el("input", { type: "datetime-local", value: shown, oninput: (event) => {
      const value = event.target.value;
      if (value) doc[key] = `${value}:00+00:00`; else delete doc[key];
      changed();
    } });
  }

  function settingField(setting, box) {
    if (serverError && serverError.setting === setting) {
      const control = box.querySelector("input, select");
      const note = el("span", { className: "field-error", id: uid("error"), text: serverError.message });
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", note.id);
      box.append(note);
    }
    return box;
  }

  // -- steps in words --------------------------------------------------------------------------

  function describe(step) {
    const kind = kindOf(step);
    if (kind === "mailing") return `Send ${quoted(step.mailing)}`;
    if (kind === "wait") return waitWords(step.wait || {});
    if (kind === "decide") {
      const [asked, value] = Object.entries(step.decide || {})[0] || ["member_of", ""];
      if (asked === "member_of") return `Member of ${quoted(value)}?`;
      return `${asked === "opened" ? "Opened" : "Clicked"} ${value === "any" ? "any of this campaign's mailings" : quoted(value)}?`;
    }
    if (kind === "notify") return `E-mail ${step.notify || "(no address yet)"}`;
    if (kind === "profile") {
      const [action, group] = Object.entries(step.profile || {})[0] || ["add_to", ""];
      return `${action === "add_to" ? "Add to" : "Remove from"} ${quoted(group)}`;
    }
    return "Leave the campaign";
  }

  function waitWords(wait) {
    const until = wait.until;
    if (!until) {
      const parts = UNITS.filter((unit) => wait[unit] !== undefined)
        .map((unit) => `${wait[unit]} ${wait[unit] === 1 ? unit.slice(0, -1) : unit}`);
      return parts.length ? parts.join(", ") : "(how long? not said yet)";
    }
    const day = until.weekday !== undefined ? `the next ${title(until.weekday)}` : `day ${until.day} of the month`;
    return `until ${day} at ${until.at || "00:00"}`;
  }

  function title(word) { return String(word).charAt(0).toUpperCase() + String(word).slice(1); }

  // -- a card's settings ----------------------------------------------------------------------

  function editor(step, list) {
    const kind = kindOf(step);
    const box = el("div", { className: "step-editor", id: `editor-${keyOf(step)}` });
    box.append(labelled("Step name", textInput(step.id, (value) => { step.id = value; changed(); },
      { maxLength: 100, autocomplete: "off", "data-field": "id" }), "Named on the campaign's page; keep it when people are in the campaign."));
    FIELDS[kind](box, step, list);
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape" || (event.key === "Enter" && event.target.tagName === "INPUT")) {
        event.preventDefault();
        closeEditor(step);
      }
    });
    return box;
  }

  const FIELDS = {
    mailing(box, step) {
      const names = withCurrent(data.mailings, step.mailing);
      box.append(labelled("Mailing", select([["", "Pick a mailing"], ...names.map((n) => [n, n])], step.mailing,
        (value) => { step.mailing = value; changed(); }, { "data-field": "mailing" })));
      const link = el("a", { href: `${data.new_mailing_url}?back=${encodeURIComponent(location.pathname)}`, text: "New mailing",
        className: "button secondary" });
      link.addEventListener("click", () => sessionStorage.setItem(draftKey(), field.value));
      box.append(el("p", {}, link, el("span", { className: "muted", text: " opens the mailing editor and comes back here, keeping this campaign as it is." })));
    },
    wait(box, step) {
      const wait = step.wait || (step.wait = { days: 1 });
      const until = wait.until;
      const how = until ? (until.weekday !== undefined ? "weekday" : "day") : "for";
      box.append(labelled("Wait", select([["for", "for a time"], ["weekday", "until a day of the week"], ["day", "until a day of the month"]],
        how, (value) => {
          step.wait = value === "for" ? { days: 1 } : { until: value === "weekday" ? { weekday: "monday", at: "09:00" } : { day: 1, at: "09:00" } };
          redraw(`${keyOf(step)}:wait`);
        }, { "data-key": `${keyOf(step)}:wait`, "data-field": "wait" })));
      if (!until) {
        const row = el("div", { className: "row" });
        for (const unit of UNITS) {
          row.append(labelled(title(unit), el("input", { type: "number", min: "0", step: "1", value: wait[unit] ?? "", "data-field": "wait", oninput: (event) => {
            const text = event.target.value.trim();
            if (text === "") delete wait[unit]; else wait[unit] = /^\d+$/.test(text) ? Number(text) : text;
            changed();
          } })));
        }
        box.append(row);
        return;
      }
      const row = el("div", { className: "row" });
      if (until.weekday !== undefined) {
        row.append(labelled("Day of the week", select(data.weekdays.map((d) => [d, title(d)]), String(until.weekday).toLowerCase(),
          (value) => { until.weekday = value; changed(); }, { "data-field": "wait" })));
      } else {
        row.append(labelled("Day of the month (1 to 31)", el("input", { type: "number", min: "1", max: "31", value: until.day ?? "", "data-field": "wait",
          oninput: (event) => { until.day = Number(event.target.value) || event.target.value; changed(); } })));
      }
      row.append(labelled("At (UTC)", el("input", { type: "time", value: until.at || "09:00", "data-field": "wait",
        oninput: (event) => { until.at = event.target.value; changed(); } })));
      box.append(row);
    },
    decide(box, step, list) {
      const [asked, value] = Object.entries(step.decide || {})[0] || ["member_of", ""];
      box.append(labelled("Ask whether the person", select([["member_of", "is a member of a group"], ["opened", "opened a mailing"],
        ["clicked", "clicked in a mailing"]], asked, (chosen) => {
        step.decide = { [chosen]: chosen === "member_of" ? "" : "any" };
        redraw(`${keyOf(step)}:ask`);
      }, { "data-key": `${keyOf(step)}:ask`, "data-field": "decide" })));
      if (asked === "member_of") {
        const groups = withCurrent(data.groups.map((g) => g.name), value);
        box.append(labelled("Group", select([["", "Pick a group"], ...groups.map((n) => [n, n])], value,
          (chosen) => { step.decide = { member_of: chosen }; changed(); }, { "data-field": "decide" })));
      } else {
        const mailings = withCurrent(campaignMailings(), value === "any" ? "" : value);
        box.append(labelled("Mailing", select([["any", "any of this campaign's mailings"], ...mailings.map((n) => [n, n])], value,
          (chosen) => { step.decide = { [asked]: chosen }; changed(); }, { "data-field": "decide" })));
      }
      if (!followsWait(step, list)) box.append(el("p", { className: "muted", text: DECIDE_AFTER_WAIT }));
    },
    notify(box, step) {
      box.append(labelled("Address to e-mail", textInput(step.notify, (value) => { step.notify = value; changed(); },
        { autocomplete: "off", inputMode: "email", "data-field": "notify" }), "Someone on your team, told when people reach this step."));
      box.append(labelled("Subject", textInput(step.subject, (value) => { step.subject = value; changed(); }, { "data-field": "subject" })));
    },
    profile(box, step) {
      const [action, group] = Object.entries(step.profile || {})[0] || ["add_to", ""];
      const statics = withCurrent(data.groups.filter((g) => g.static).map((g) => g.name), group);
      box.append(labelled("Change", select([["add_to", "Add to"], ["remove_from", "Remove from"]], action,
        (chosen) => { step.profile = { [chosen]: group }; changed(); }, { "data-field": "profile" })));
      box.append(labelled("Static group", select([["", "Pick a static group"], ...statics.map((n) => [n, n])], group,
        (chosen) => { step.profile = { [action]: chosen }; changed(); }, { "data-field": "profile" })));
    },
    end(box) {
      box.append(el("p", { className: "muted", text: "People who reach this step leave the campaign." }));
    },
  };

  function withCurrent(names, current) { return current && !names.includes(current) ? [...names, current] : names; }

  // Every step of the list, depth first: each step, then its Yes branch, then its No branch.
  function everyStep(list = doc.steps) {
    return list.flatMap((step) => [step, ...everyStep(step.yes || []), ...everyStep(step.no || [])]);
  }

  function campaignMailings() {
    return [...new Set(everyStep().filter((step) => step.mailing).map((step) => step.mailing))];
  }

  // -- the flow of cards ----------------------------------------------------------------------

  function followsWait(step, list) {
    const before = list[list.indexOf(step) - 1];
    return !!before && kindOf(before) === "wait";
  }

  // What is wrong with a step where it stands, as the server would say (so it is said before saving).
  function misplaced(step, list) {
    const position = list.indexOf(step);
    const before = list[position - 1];
    if (before && ["decide", "end"].includes(kindOf(before))) return `Nothing can follow ${kindOf(before) === "end" ? "an End" : "a Decide"} in the same list: move this step into a branch or earlier.`;
    if (kindOf(step) === "decide" && !followsWait(step, list)) return DECIDE_AFTER_WAIT;
    return null;
  }

  function flow(list, label) {
    const ol = el("ol", { className: "flow", "aria-label": label });
    if (list !== doc.steps || list.length === 0) ol.append(addSlot(list, 0, list === doc.steps ? "Add the first step" : `Add a step at the start of ${label}`));
    list.forEach((step, position) => {
      ol.append(card(step, list));
      if (!["decide", "end"].includes(kindOf(step))) ol.append(addSlot(list, position + 1, `Add a step after ${step.id || describe(step)}`));
    });
    return ol;
  }

  function card(step, list) {
    const key = keyOf(step);
    const kind = kindOf(step);
    const heading = el("h3", { className: "step-title", id: `title-${key}` },
      el("span", { className: "step-kind", text: TITLES[kind] }), document.createTextNode(" "),
      el("span", { className: "step-summary", text: describe(step) }));
    const box = el("li", { className: `step-card step-${kind}`, id: `card-${key}`, "aria-labelledby": `title-${key}` });
    box.append(el("div", { className: "step-head" }, heading, el("p", { className: "muted step-name", text: `Step ${step.id || "(no name)"}` }), counts(step)));
    const actions = el("div", { className: "step-actions", role: "group", "aria-label": `Step ${step.id || TITLES[kind]}` });
    const toggle = el("button", { type: "button", className: "secondary", text: open.has(key) ? "Close" : "Edit",
      "aria-expanded": String(open.has(key)), "aria-controls": `editor-${key}`, "data-key": `${key}:edit` });
    toggle.setAttribute("aria-label", `${open.has(key) ? "Close" : "Edit"} ${TITLES[kind]} step ${step.id || ""}`.trim());
    toggle.addEventListener("click", () => (open.has(key) ? closeEditor(step) : openEditor(step)));
    actions.append(toggle, mover(step, list, -1, "Move up"), mover(step, list, 1, "Move down"), remover(step, list));
    box.append(actions);
    const refused = serverError && serverError.step && serverError.step === step.id ? serverError.message : null;
    const wrongPlace = misplaced(step, list);
    if (wrongPlace) box.append(el("p", { className: "field-error misplaced", role: "alert", text: wrongPlace }));
    if (open.has(key)) {
      const fields = editor(step, list);
      if (refused) besideField(fields, serverError.field || kind, refused);
      box.append(fields);
    } else if (refused) {
      box.append(el("p", { className: "field-error refused", role: "alert", text: refused }));
    }
    if (kind === "decide") {
      step.yes = step.yes || [];
      step.no = step.no || [];
      box.append(el("div", { className: "branches" },
        el("section", { className: "branch branch-yes", "aria-label": `Yes: ${describe(step)}` }, el("h4", { text: "Yes" }), flow(step.yes, "Yes")),
        el("section", { className: "branch branch-no", "aria-label": `No: ${describe(step)}` }, el("h4", { text: "No" }), flow(step.no, "No"))));
    }
    return box;
  }

  // The server's reason next to the field at fault (the step's kind names its main field).
  function besideField(fields, name, text) {
    const controls = [...fields.querySelectorAll(`[data-field="${CSS.escape(name)}"]`)];
    const note = el("span", { className: "field-error refused", id: uid("refused"), role: "alert", text });
    const last = controls[controls.length - 1];
    const place = last ? last.closest(".row") || last.closest(".designer-field") : null;
    if (place) place.after(note); else fields.prepend(note);
    for (const control of controls) {
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-errormessage", note.id);
    }
  }

  function counts(step) {
    const reached = data.reached[step.id];
    if (!reached || (!data.active && !reached.waiting && !reached.passed)) return null;
    return el("p", { className: "step-counts" },
      el("a", { href: reached.waiting_url, text: `${reached.waiting.toLocaleString("en")} waiting here` }),
      document.createTextNode(" · "),
      el("a", { href: reached.passed_url, text: `${reached.passed.toLocaleString("en")} passed` }));
  }

  function mover(step, list, by, text) {
    const position = list.indexOf(step);
    const button = el("button", { type: "button", className: "secondary", text, "data-key": `${keyOf(step)}:${text}`,
      disabled: position + by < 0 || position + by >= list.length });
    button.addEventListener("click", () => {
      list.splice(position, 1);
      list.splice(position + by, 0, step);
      redraw(`${keyOf(step)}:${text}`);
    });
    return button;
  }

  function remover(step, list) {
    const button = el("button", { type: "button", className: "secondary delete", text: "Delete" });
    button.addEventListener("click", () => {
      const waiting = waitingIn(step);
      const question = waiting
        ? `${waiting.toLocaleString("en")} ${waiting === 1 ? "person waits" : "people wait"} at step ${step.id}${kindOf(step) === "decide" ? " or in its branches" : ""}. Delete it? Saving makes a new version: they finish the version they are in, and new people follow the new steps.`
        : null;
      if (question && !window.confirm(question)) return;
      const position = list.indexOf(step);
      list.splice(position, 1);
      const next = list[position] || list[position - 1];
      redraw(next ? `${keyOf(next)}:edit` : null);
    });
    return button;
  }

  function waitingIn(step) {
    return everyStep([step]).reduce((sum, inner) => sum + ((data.reached[inner.id] || {}).waiting || 0), 0);
  }

  function addSlot(list, position, text) {
    const key = `add-${list === doc.steps ? "top" : keyOfList(list)}-${position}`;
    const slot = el("li", { className: "add-slot" });
    const button = el("button", { type: "button", className: "add", text: "+ Add a step", "aria-expanded": String(menuAt === key),
      "data-key": key });
    button.setAttribute("aria-label", text);
    button.addEventListener("click", () => { menuAt = menuAt === key ? null : key; redraw(menuAt ? `${key}:first` : key); });
    slot.append(button);
    if (menuAt === key) slot.append(menu(list, position, key));
    return slot;
  }

  // A branch list's key: that of its Decide, and which branch.
  function keyOfList(list) {
    const decide = everyStep().find((step) => step.yes === list || step.no === list);
    return `${keyOf(decide)}-${decide.yes === list ? "yes" : "no"}`;
  }

  function menu(list, position, key) {
    const box = el("div", { className: "add-menu", role: "group", "aria-label": "Kind of step to add" });
    const before = list[position - 1];
    const last = position === list.length;
    KINDS.forEach((kind, index) => {
      const reason = kind === "decide" && !(before && kindOf(before) === "wait") ? DECIDE_AFTER_WAIT
        : ["decide", "end"].includes(kind) && !last ? LAST_IN_LIST : null;
      const button = el("button", { type: "button", className: "secondary", text: TITLES[kind], disabled: !!reason,
        "data-key": index === 0 ? `${key}:first` : `${key}:${kind}` });
      button.addEventListener("click", () => {
        const step = newStep(kind);
        list.splice(position, 0, step);
        menuAt = null;
        open.add(keyOf(step));
        redraw(`${keyOf(step)}:edit`);
      });
      const item = el("span", { className: "add-kind" }, button);
      if (reason) {
        const note = el("span", { className: "muted", id: uid("why"), text: reason });
        button.setAttribute("aria-describedby", note.id);
        item.append(note);
      }
      box.append(item);
    });
    box.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      menuAt = null;
      redraw(key);
    });
    return box;
  }

  function newStep(kind) {
    const id = freeId(kind);
    if (kind === "mailing") return { id, mailing: "" };
    if (kind === "wait") return { id, wait: { days: 1 } };
    if (kind === "decide") return { id, decide: { opened: "any" }, yes: [], no: [] };
    if (kind === "notify") return { id, notify: "", subject: "Campaign step reached" };
    if (kind === "profile") return { id, profile: { add_to: "" } };
    return { id, end: true };
  }

  function freeId(kind) {
    const taken = new Set(everyStep().map((step) => step.id));
    let number = 1;
    while (taken.has(`${kind}-${number}`)) number += 1;
    return `${kind}-${number}`;
  }

  function openEditor(step) { open.add(keyOf(step)); redraw(`${keyOf(step)}:edit`); }
  function closeEditor(step) { open.delete(keyOf(step)); redraw(`${keyOf(step)}:edit`); }

  // -- drawing, the form field, and what saving would do ---------------------------------------

  // Draw everything again, then focus the control of that key (the one acted on, or its card's).
  function redraw(focus) {
    root.replaceChildren(settings(), el("h2", { text: "Steps", id: "designer-steps" }), flow(doc.steps, "Steps"));
    const target = focus ? root.querySelector(`[data-key="${CSS.escape(focus)}"]`) : null;
    if (target) target.focus();
    changed();
  }

  // After any edit: the form field follows, each card's words follow, and (editing a saved
  // campaign) the server says again what saving would do.
  function changed() {
    field.value = JSON.stringify(doc, null, 2);
    for (const step of everyStep()) {
      const box = document.getElementById(`card-${keyOf(step)}`);
      if (box) box.querySelector(".step-summary").textContent = describe(step);
    }
    if (data.check_url) {
      clearTimeout(checkTimer);
      checkTimer = setTimeout(check, 400);
    }
  }

  async function check() {
    try {
      const response = await fetch(data.check_url, {
        method: "POST",
        credentials: "same-origin",
        headers: { ...jsonHeaders(), "Content-Type": "application/json" },  // kith.js
        body: JSON.stringify({ definition: doc }),
      });
      const answer = await response.json();
      summary.replaceChildren(...(response.ok ? planned(answer) : [el("p", { className: "field-error", text: `Cannot be saved yet: ${answer.message}` })]));
    } catch (error) {
      summary.replaceChildren(el("p", { className: "muted",
        text: "What saving would do could not be asked: the server did not answer. Saving still checks the campaign first." }));
    }
  }

  function planned(answer) {
    const lines = [];
    if (answer.new_version.length) {
      lines.push(el("p", { className: "alert warning", id: "makes-new-version",
        text: `Saving makes version ${data.version + 1}: people have reached ${names(answer.new_version)}, which changed. People already in the campaign go on with the version they are in; new people follow the new steps.` }));
    }
    if (answer.in_place.length) {
      lines.push(el("p", { id: "changes-in-place", text: `Changed in place (nobody has reached them): ${names(answer.in_place)}.` }));
    }
    if (!lines.length) lines.push(el("p", { className: "muted", text: "No step has changed yet." }));
    return lines;
  }

  function names(ids) { return ids.map((id) => `step ${id}`).join(", "); }

  function problems() { return root.querySelector(".step-card > .misplaced"); }

  function draftKey() { return `kith-designer:${location.pathname}`; }

  // Take the text as the campaign to show, when it is one the cards can show.
  function load(text) {
    let parsed;
    try { parsed = JSON.parse(text); } catch (error) { return false; }
    if (!isObject(parsed)) return false;
    parsed.steps = parsed.steps ?? [];
    if (!isSteps(parsed.steps)) return false;
    doc = parsed;
    return true;
  }

  function isObject(value) { return !!value && typeof value === "object" && !Array.isArray(value); }

  function isSteps(list) {
    return Array.isArray(list) && list.every((step) => isObject(step)
      && ["yes", "no"].every((branch) => step[branch] === undefined || isSteps(step[branch])));
  }

  document.addEventListener("DOMContentLoaded", () => {
    root = document.getElementById("designer");
    if (!root) return;
    data = JSON.parse(document.getElementById("designer-data").textContent);
    field = document.getElementById("definition");
    summary = document.getElementById("change-summary");
    serverError = data.error;
    const kept = sessionStorage.getItem(draftKey());
    sessionStorage.removeItem(draftKey());
    if (kept !== null) field.value = kept;
    if (!load(field.value)) {
      root.replaceChildren(el("p", { className: "field-error", text: "This text is not a campaign the designer can show: correct it under “Advanced: edit as text”." }));
      document.getElementById("designer-text").open = true;
      return;
    }
    if (serverError && serverError.step) {
      everyStep().filter((step) => step.id === serverError.step).forEach((step) => open.add(keyOf(step)));
    }
    field.addEventListener("change", () => { if (load(field.value)) { serverError = null; redraw(); } });
    field.form.addEventListener("submit", (event) => {
      if (document.getElementById("designer-text").open) return;  // the text as typed, checked by the server
      field.value = JSON.stringify(doc, null, 2);
      const problem = problems();
      if (problem) {
        event.preventDefault();
        problem.scrollIntoView({ block: "center" });
        problem.closest(".step-card").querySelector("button").focus();
      }
    });
    redraw();
  });
})();
