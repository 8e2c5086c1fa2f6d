// The console's only script: it makes the page quicker to use, never needed to use it.
// - the policy editor checks the text as it is typed and points at the lines with errors;
// - a long test shows its progress, then its results, without leaving the page.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf"]').content;

function post(url, form, accept) {
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf(), Accept: accept },
    body: new URLSearchParams(new FormData(form)),
  });
}

function lineNumbers(textarea, gutter, bad) {
  const count = textarea.value.split("\n").length;
  gutter.replaceChildren();
  for (let n = 1; n <= count; n++) {
    const span = document.createElement("span");
    span.textContent = String(n);
    if (bad.has(n)) span.className = "bad";
    gutter.append(span, "\n");
  }
  gutter.scrollTop = textarea.scrollTop;
}

function selectLine(textarea, line) {
  const lines = textarea.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0);
  textarea.focus();
  textarea.setSelectionRange(start, start + (lines[line - 1] || "").length);
  const height = textarea.scrollHeight / Math.max(lines.length, 1);
  textarea.scrollTop = Math.max(0, (line - 5) * height);
}

function showProblems(section, textarea, errors) {
  const list = document.createElement("ul");
  for (const error of errors) {
    const item = document.createElement("li");
    if (error.line) {
      item.dataset.line = error.line;
      const link = document.createElement("a");
      link.href = "#yaml";
      link.dataset.line = error.line;
      link.textContent = section.dataset.lineLabel + " " + error.line;
      item.append(link, " · ");
    }
    if (error.key) {
      const key = document.createElement("code");
      key.textContent = error.key;
      item.append(key, ": ");
    }
    item.append(error.message);
    list.append(item);
  }
  const title = section.querySelector("h2");
  section.replaceChildren(title);
  if (errors.length) section.append(list);
  else {
    const none = document.createElement("p");
    none.textContent = section.dataset.none;
    section.append(none);
  }
}

function editor(form) {
  const textarea = form.querySelector("#yaml");
  const gutter = form.querySelector("#gutter");
  const section = form.querySelector("#problems");
  let bad = new Set([...section.querySelectorAll("li[data-line]")].map((li) => Number(li.dataset.line)));
  let timer = null;
  let asked = 0;
  const check = async () => {
    const ticket = ++asked;
    const body = new FormData();
    body.set("yaml", textarea.value);
    const answer = await fetch(textarea.dataset.validate, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), Accept: "application/json" },
      body: new URLSearchParams(body),
    });
    if (ticket !== asked || !answer.ok) return;  // a newer check is on its way, or the session ended
    const { errors } = await answer.json();
    bad = new Set(errors.map((e) => e.line).filter(Boolean));
    showProblems(section, textarea, errors);
    lineNumbers(textarea, gutter, bad);
  };
  textarea.addEventListener("input", () => {
    lineNumbers(textarea, gutter, bad);
    clearTimeout(timer);
    timer = setTimeout(check, 350);
  });
  textarea.addEventListener("scroll", () => { gutter.scrollTop = textarea.scrollTop; });
  section.addEventListener("click", (event) => {
    const line = event.target.dataset && event.target.dataset.line;
    if (line) { event.preventDefault(); selectLine(textarea, Number(line)); }
  });
  lineNumbers(textarea, gutter, bad);
  if (textarea.value !== textarea.defaultValue) check();  // typed before this script was ready
}

function tester(form) {
  const progress = form.querySelector("#test-progress");
  const count = form.querySelector("#test-count");
  const results = document.querySelector("#test-results");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    results.replaceChildren();
    try {
      const answer = await post(form.action, form, "application/x-ndjson");
      if (!answer.ok) {  // a refusal is a page: show its message
        const page = new DOMParser().parseFromString(await answer.text(), "text/html");
        const message = page.querySelector("#refusal, .refusal");
        results.textContent = message ? message.textContent : answer.statusText;
        return;
      }
      const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
      let pending = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pending += value;
        const lines = pending.split("\n");
        pending = lines.pop();
        for (const line of lines.filter(Boolean)) {
          const step = JSON.parse(line);
          if (step.error) { results.textContent = step.error; continue; }
          progress.max = step.total;
          progress.value = step.done;
          count.textContent = step.done + " / " + step.total;
          if (step.html !== undefined) {
            const page = new DOMParser().parseFromString(step.html, "text/html");
            results.replaceChildren(...page.body.childNodes);
          }
        }
      }
    } finally {
      button.disabled = false;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("#editor");
  if (form) editor(form);
  const test = document.querySelector("#test");
  if (test) tester(test);
});
