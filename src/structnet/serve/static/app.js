// The structnet page: pick or drop a photo, choose tasks, POST it to /api/v1/analyze?stream=1 and show each
// task's pictures as its line arrives; the last line is the whole analysis (the JSON download).
"use strict";

const TITLES = {skeleton: "Object skeletons and thickness", extraction: "Salient object (box and mask)",
                pose2d: "2D human pose", hypercolumn: "Person parts", pose3d: "3D human pose"};
const $ = (id) => document.getElementById(id);
let photo = null;
let jsonUrl = null;

function showError(message) {
  const el = $("error");
  el.textContent = message;
  el.hidden = !message;
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

async function loadModels() {
  const box = $("tasks");
  try {
    const r = await fetch("/api/v1/models");
    const doc = await r.json();
    if (!r.ok) throw new Error(doc.error ? doc.error.message : r.statusText);
    box.querySelector(".muted").remove();
    for (const t of doc.tasks) {
      const label = el("label", {title: `${t.summary} (model ${t.model}${t.headline ? ": " + t.headline : ""})`});
      const cb = el("input", {type: "checkbox", value: t.task, checked: "checked", name: "task"});
      label.append(cb, " " + t.task);
      box.append(label);
    }
    $("drop").dataset.maxBytes = doc.limits.max_upload_bytes;
  } catch (err) {
    showError("could not load the models: " + err.message);
  }
}

function choose(file) {
  showError("");
  if (!file) return;
  const max = Number($("drop").dataset.maxBytes || 0);
  if (max && file.size > max) {
    showError(`${file.name} is ${(file.size / 1048576).toFixed(1)} MB, over the ${(max / 1048576).toFixed(1)} MB limit`);
    return;
  }
  photo = file;
  $("drop-text").textContent = `${file.name} (${(file.size / 1024).toFixed(0)} KB): click Analyse`;
  $("run").disabled = false;
}

function chosenTasks() {
  return Array.from(document.querySelectorAll("input[name=task]:checked")).map((c) => c.value);
}

function taskCard(task) {
  const card = el("div", {class: "task", id: "task-" + task});
  const h = el("h2", {}, TITLES[task] || task);
  h.append(el("span", {class: "status running"}, "running"));
  card.append(h, el("p", {class: "meta muted"}), el("div", {class: "body"}));
  return card;
}

function fillCard(task, data) {
  const card = $("task-" + task);
  if (!card) return;
  const badge = card.querySelector(".status");
  badge.className = "status " + data.status;
  badge.textContent = data.status;
  const meta = [`task ${task}`];
  if (data.model) meta.push(`model ${data.model}`);
  meta.push(`${data.seconds.toFixed(2)} s`);
  card.querySelector(".meta").textContent = meta.join(" \u00b7 ");
  const body = card.querySelector(".body");
  body.textContent = "";
  if (data.status !== "ok") {
    body.append(el("p", {}, data.reason || ""));
    return;
  }
  if (data.summary) body.append(el("p", {}, data.summary));
  for (const [suffix, uri] of Object.entries(data.images || {})) {
    const fig = el("figure");
    const img = el("img", {src: uri, alt: `${task} ${suffix}`, class: "overlay", "data-task": task});
    const name = (photo ? photo.name.replace(/\.[^.]*$/, "") : "photo") + suffix;
    const cap = el("figcaption");
    cap.append(el("a", {href: uri, download: name, class: "download-png"}, "download " + name));
    fig.append(img, cap);
    body.append(fig);
  }
  const det = el("details");
  det.append(el("summary", {}, "settings and JSON"),
             el("pre", {}, JSON.stringify({settings: data.settings, result: data.result}, null, 1)));
  body.append(det);
}

async function run() {
  if (!photo) return;
  const tasks = chosenTasks();
  if (!tasks.length) { showError("choose at least one task"); return; }
  showError("");
  $("run").disabled = true;
  $("results").textContent = "";
  $("summary").hidden = true;
  document.body.dataset.state = "running";
  const bar = $("bar");
  bar.value = 0;
  $("progress").hidden = false;
  $("status").textContent = "uploading\u2026";
  const form = new FormData();
  form.append("image", photo, photo.name);
  form.append("tasks", tasks.join(","));
  let done = 0, total = tasks.length, analysis = null;
  try {
    const r = await fetch("/api/v1/analyze?stream=1", {method: "POST", body: form});
    if (!r.ok) {
      const doc = await r.json().catch(() => ({}));
      throw new Error(doc.error ? doc.error.message : `${r.status} ${r.statusText}`);
    }
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done: end} = await reader.read();
      if (value) buffer += decoder.decode(value, {stream: true});
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const ev = JSON.parse(line);
        if (ev.event === "start") {
          total = ev.tasks.length;
          bar.max = total;
          for (const t of ev.tasks) $("results").append(taskCard(t));
          $("status").textContent = `0 of ${total} tasks done`;
        } else if (ev.event === "task") {
          done += 1;
          bar.value = done;
          $("status").textContent = `${done} of ${total} tasks done (${ev.task} ${ev.status})`;
          fillCard(ev.task, ev);
        } else if (ev.event === "done") {
          analysis = ev.analysis;
        } else if (ev.event === "error") {
          throw new Error(ev.error.message);
        }
      }
      if (end) break;
    }
    if (!analysis) throw new Error("the server ended the answer without the analysis");
    for (const [task, data] of Object.entries(analysis.tasks)) fillCard(task, data);
    showSummary(analysis);
    $("status").textContent = `${total} of ${total} tasks done in ${analysis.seconds.toFixed(1)} s`;
    document.body.dataset.state = "done";
  } catch (err) {
    showError(err.message);
    document.body.dataset.state = "error";
  } finally {
    $("run").disabled = false;
  }
}

function showSummary(analysis) {
  $("summary").hidden = false;
  $("photo-name").textContent = `${analysis.image.name} (${analysis.image.width} x ${analysis.image.height} px)`;
  const p = analysis.person;
  $("person").textContent = !p ? "pose2d did not run: no person decision" :
    (p.found ? "person found" : "no person found") + ` (joint score ${p.score.toFixed(2)}): ${p.rule}`;
  if (jsonUrl) URL.revokeObjectURL(jsonUrl);
  jsonUrl = URL.createObjectURL(new Blob([JSON.stringify(analysis, null, 1)], {type: "application/json"}));
  const a = $("download-json");
  a.href = jsonUrl;
  a.download = (analysis.image.name.replace(/\.[^.]*$/, "") || "photo") + "_analysis.json";
}

const drop = $("drop");
$("file").addEventListener("change", (e) => choose(e.target.files[0]));
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  choose(e.dataTransfer.files[0]);
});
$("run").addEventListener("click", run);
loadModels();
