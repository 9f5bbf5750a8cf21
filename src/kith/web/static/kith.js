// Kith's pages work without this script; with it, a region updates in place instead of reloading.
//
// <div data-poll="URL" data-reload-when-done>: fetches URL (JSON {done, html}) every second,
// puts `html` in the region, and stops when `done` (or reloads the page, when asked to); each
// of `facts` ({id: text}) becomes the text of the element with that id elsewhere on the page.
// <form data-async data-target="ID">: posts the form with fetch (CSRF token in a header), shows
// the form's data-pending text in the region at once, then polls the URL the answer names;
// when done, its button works again (labelled data-done-label, if given).
// <form data-confirm="Question?">: asks before submitting.
// [data-timezone]: the browser's time zone (Europe/Paris ...) as the input's value, or as text.
// <span data-local-time="ISO">: " (YYYY-MM-DD HH:MM your time)", the instant in the browser's zone.
// <form data-count="URL" data-count-target="ID">: on each change of the form, GETs URL with its
// fields (JSON {text}) and shows `text` in the element ID (a count as the form is filled in).
"use strict";

const POLL_MS = 1000;

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function jsonHeaders() {
  return { "Accept": "application/json", "X-CSRF-Token": csrfToken() };
}

function poll(region, url, onDone) {
  region.dataset.poll = url;
  const tick = async () => {
    let data;
    try {
      const response = await fetch(url, { headers: jsonHeaders(), credentials: "same-origin" });
      data = await response.json();
      if (!response.ok) {
        region.textContent = data.message || "The update failed: " + response.status;
        return;
      }
    } catch (error) {
      setTimeout(tick, POLL_MS);  // the network hiccuped: try again
      return;
    }
    if (data.html !== undefined) region.innerHTML = data.html;  // rendered (escaped) by the server
    for (const [id, text] of Object.entries(data.facts || {})) {
      const fact = document.getElementById(id);
      if (fact) fact.textContent = text;
    }
    if (!data.done) {
      setTimeout(tick, POLL_MS);
    } else if ("reloadWhenDone" in region.dataset) {
      window.location.reload();
    } else if (onDone) {
      onDone();
    }
  };
  setTimeout(tick, POLL_MS);
}

async function submitAsync(event) {
  const form = event.currentTarget;
  const region = document.getElementById(form.dataset.target);
  if (!region) return;
  event.preventDefault();
  region.textContent = form.dataset.pending || "In progress…";
  const button = form.querySelector("button[type=submit]");
  if (button) button.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      headers: jsonHeaders(),
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
    });
    const data = await response.json();
    if (!response.ok) {
      region.textContent = data.message || "The request failed: " + response.status;
      if (button) button.disabled = false;
      return;
    }
    poll(region, data.poll, () => {
      if (!button) return;
      button.disabled = false;
      if (form.dataset.doneLabel) button.textContent = form.dataset.doneLabel;
    });
  } catch (error) {
    region.textContent = "The request failed: " + error;
    if (button) button.disabled = false;
  }
}

async function showCount(form) {
  const target = document.getElementById(form.dataset.countTarget);
  if (!target) return;
  const fields = new URLSearchParams(new FormData(form));
  fields.delete("csrf_token");  // a count changes nothing; the token stays out of addresses
  try {
    const response = await fetch(form.dataset.count + "?" + fields, { headers: jsonHeaders(), credentials: "same-origin" });
    const data = await response.json();
    target.textContent = response.ok ? data.text : (data.message || "Cannot count: " + response.status);
  } catch (error) {
    target.textContent = "Cannot count now: " + error;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-poll]").forEach((region) => poll(region, region.dataset.poll));
  document.querySelectorAll("form[data-async]").forEach((form) => form.addEventListener("submit", submitAsync));
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  document.querySelectorAll("[data-timezone]").forEach((element) => {
    if (!zone) return;
    if (element.tagName === "INPUT") element.value = zone; else element.textContent = zone;
  });
  document.querySelectorAll("[data-local-time]").forEach((element) => {
    const at = new Date(element.dataset.localTime);
    const two = (number) => String(number).padStart(2, "0");
    const day = `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}`;
    element.textContent = ` (${day} ${two(at.getHours())}:${two(at.getMinutes())} your time)`;
  });
  document.querySelectorAll("form[data-count]").forEach((form) => form.addEventListener("change", () => showCount(form)));
  document.querySelectorAll("form[data-confirm]").forEach((form) => form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  }));
});
