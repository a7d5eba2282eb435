// Counter upload: choose (keyboard, dialog or drag-and-drop) and remove files one by one,
// one multipart POST with upload progress, then the batch's live status polled from the
// JSON API until every dossier is done, with a final tally. The batch stays in the address
// (?batch=...), so a reload, or a link from the recent batches, shows it again.
// Words come from the page's message catalogue (the body's data-words), not from
// this file.
(function () {
  "use strict";
  const words = JSON.parse(document.body.dataset.words);
  const zone = document.getElementById("drop-zone");
  const input = document.getElementById("file-input");
  const chosen = document.getElementById("chosen");
  const send = document.getElementById("send");
  const form = document.getElementById("upload-form");
  const agency = document.getElementById("agency");
  const agencyWarning = document.getElementById("agency-warning");
  const refusedPanel = document.getElementById("refused-panel");
  const errorBox = document.getElementById("upload-error");
  const refusedList = document.getElementById("refused");
  const panel = document.getElementById("progress-panel");
  const bar = document.getElementById("upload-progress");
  const state = document.getElementById("upload-state");
  const tally = document.getElementById("tally");
  const rows = document.querySelector("#batch-status tbody");
  const UNIT = /\b(\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2})-\d{6}-\d{4}\b/;
  let files = [];

  function say(key, values) {
    return (words[key] || key).replace(/\{(\w+)\}/g, (_, name) => String(values && name in values ? values[name] : ""));
  }

  function checkUnits() {
    // A file named after its dossier code says which unit received it: warn before sending
    // a Thanh Hóa dossier to Quảng Ninh.
    const chosenAgency = agency.value.trim();
    const lines = files.map((f) => {
      const found = UNIT.exec(f.name);
      return found && chosenAgency && found[1] !== chosenAgency
        ? say("file_other_unit", { name: f.name, unit: found[1], agency: chosenAgency }) : null;
    }).filter(Boolean);
    agencyWarning.textContent = lines.join(" ");
    agencyWarning.hidden = lines.length === 0;
  }

  function showFiles() {
    chosen.replaceChildren(...files.map((f, index) => {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = say("file_size", { name: f.name, kb: Math.ceil(f.size / 1024) });
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary remove";
      remove.textContent = say("remove");
      remove.setAttribute("aria-label", say("remove_file", { name: f.name }));
      remove.addEventListener("click", () => {
        files.splice(index, 1);
        showFiles();
        (chosen.querySelector("button.remove") || input).focus();
      });
      li.append(name, remove);
      return li;
    }));
    send.disabled = files.length === 0;
    checkUnits();
  }
  function addFiles(list) { files = files.concat(Array.from(list)); showFiles(); }
  function fail(message) {
    errorBox.textContent = message;
    refusedList.replaceChildren();
    refusedPanel.hidden = false;
  }

  ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (e) => {
    e.preventDefault(); zone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, (e) => {
    e.preventDefault(); zone.classList.remove("over");
  }));
  zone.addEventListener("drop", (e) => addFiles(e.dataTransfer.files));
  zone.addEventListener("keydown", (e) => {
    if ((e.key === "Enter" || e.key === " ") && e.target === zone) { e.preventDefault(); input.click(); }
  });
  input.addEventListener("change", () => { addFiles(input.files); input.value = ""; });
  agency.addEventListener("change", checkUnits);
  agency.addEventListener("input", checkUnits);

  const headings = Array.from(document.querySelectorAll("#batch-status thead th")).map((th) => th.textContent);
  function cell(tr, text) {
    const td = document.createElement("td");
    td.textContent = String(text);
    td.dataset.label = headings[tr.children.length] || "";  // the column's name, on a phone
    tr.appendChild(td);
    return td;
  }

  // The counter's verdict on one dossier: a headline, the papers found, then what to do,
  // most urgent first (rescan, then check, then notes).
  function verdictBox(verdict) {
    const box = document.createElement("div");
    box.className = `verdict verdict-${verdict.verdict}`;
    box.dataset.verdict = verdict.verdict;
    const head = document.createElement("strong");
    head.textContent = verdict.headline;
    box.appendChild(head);
    if (verdict.found) {
      const found = document.createElement("p");
      found.textContent = verdict.found;
      box.appendChild(found);
    }
    if (verdict.lines.length) {
      const list = document.createElement("ul");
      for (const line of verdict.lines) {
        const item = document.createElement("li");
        item.className = line.severity;
        item.textContent = line.text;
        list.appendChild(item);
      }
      box.appendChild(list);
    }
    return box;
  }

  // A finished upload joins "recent uploads" at once (the list was drawn with the page).
  function rememberBatch(batch) {
    const list = document.getElementById("recent-batches");
    if (!list || list.querySelector(`a[href="/upload?batch=${CSS.escape(batch.batch_id)}"]`)) return;
    const none = list.querySelector("li.none");
    if (none) none.remove();
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `/upload?batch=${encodeURIComponent(batch.batch_id)}`;
    link.textContent = batch.batch_id;
    item.append(link, ` · ${say("files_count", { n: batch.files })} · ${batch.agency || ""}`);
    list.prepend(item);
  }

  function render(batch) {
    const done = batch.progress.pages_done, total = batch.progress.pages_total;
    document.getElementById("batch-id").textContent = batch.batch_id;
    document.getElementById("batch-agency").textContent = batch.agency || "";
    if (batch.finished) {
      // Every file has its answer, failed ones included: the bar is full.
      bar.max = 1; bar.value = 1;
    } else if (total > 0) { bar.max = total; bar.value = done; }
    state.textContent = batch.finished
      ? say("finished", { total: batch.files })
      : say("processing", { done: done, total: total });
    rows.replaceChildren(...batch.dossiers.map((d) => {
      const tr = document.createElement("tr");
      tr.dataset.status = d.status;
      cell(tr, d.source);
      cell(tr, d.status_text);
      cell(tr, d.status === "processing" ? `${d.pages_done}/${d.pages}` : d.pages);
      cell(tr, d.dossier_code || "");
      const notes = [];
      const verdict = d.verdict && d.verdict.verdict !== "processing" ? d.verdict : null;
      // The verdict says the error itself (in words), and what needs a person.
      if (d.error_text && !verdict) notes.push(d.error_text);
      // The earlier dossier is named by its code, and only when this counter may open it;
      // otherwise (or before its code is read) only that the file came in before.
      if (d.duplicate_code) notes.push(say("duplicate_code", { code: d.duplicate_code }));
      else if (d.status === "duplicate") notes.push(say("duplicate_unnamed"));
      if (d.needs_review && !verdict) notes.push(say("needs_review"));
      if (d.other_unit) notes.push(say("other_unit", { code: d.dossier_code, unit: d.other_unit, agency: batch.agency }));
      const note = cell(tr, notes.join(" · "));
      if (d.error_text) note.className = "error";
      else if (d.other_unit) note.className = "warning";
      if (d.receipt_url) {  // the hand-over receipt for the citizen, once the file is stored
        const link = document.createElement("a");
        link.href = d.receipt_url;
        link.className = "receipt";
        link.textContent = say("print_receipt");
        note.append(notes.length ? " · " : "", link);
      }
      if (verdict) note.appendChild(verdictBox(verdict));
      return tr;
    }));
    if (batch.finished) rememberBatch(batch);
    if (batch.finished) {
      const count = (status) => batch.dossiers.filter((d) => d.status === status).length;
      const parts = [say("tally_archived", { n: count("archived") })];
      if (count("failed")) parts.push(say("tally_failed", { n: count("failed") }));
      if (count("duplicate")) parts.push(say("tally_duplicate", { n: count("duplicate") }));
      const review = batch.dossiers.filter((d) => d.needs_review).length;
      if (review) parts.push(say("tally_review", { n: review }));
      tally.textContent = parts.join(" · ");
      tally.hidden = false;
    } else {
      tally.hidden = true;
    }
  }

  async function poll(batchId) {
    let batch;
    try {
      const response = await fetch(`/api/batches/${encodeURIComponent(batchId)}`, { credentials: "same-origin" });
      if (!response.ok) { fail(say("status_unreadable", { status: response.status })); return; }
      batch = await response.json();
    } catch (_) {
      setTimeout(() => poll(batchId), 3000);  // the network hiccuped: the batch goes on
      return;
    }
    panel.hidden = false;
    render(batch);
    if (!batch.finished) setTimeout(() => poll(batchId), 1000);
  }

  function refused(body, status) {
    // Exactly the refused files leave the list (by position in what was sent); the rest
    // stay chosen, so the batch goes again with one click.
    const named = Array.isArray(body.files) ? body.files : [];
    if (named.length === 0) {
      fail(say("refused_generic", { status: status, detail: say("error_generic") }));
      return;
    }
    const out = new Set(named.map((f) => f.position));
    files = files.filter((_, index) => !out.has(index));
    showFiles();
    errorBox.textContent = say("refused");
    refusedList.replaceChildren(...named.map((f) => {
      const li = document.createElement("li");
      li.className = "refused";
      li.textContent = f.shown;
      return li;
    }));
    refusedPanel.hidden = false;
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    refusedPanel.hidden = true;
    const data = new FormData();
    files.forEach((f) => data.append("files", f, f.name));
    ["agency", "procedure", "post-office"].forEach((id) => {
      const field = document.getElementById(id);
      if (field.value.trim()) data.append(field.name, field.value.trim());
    });
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/batches");
    panel.hidden = false;
    tally.hidden = true;
    rows.replaceChildren();
    bar.max = 100; bar.value = 0;
    state.textContent = say("uploading");
    send.disabled = true;
    xhr.upload.onprogress = (p) => {
      if (p.lengthComputable) { bar.max = p.total; bar.value = p.loaded; }
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status === 202) {
        files = []; showFiles();
        // The next batch starts from the account's own agency, not the last one typed.
        agency.value = form.dataset.defaultAgency || "";
        history.replaceState(null, "", `/upload?batch=${encodeURIComponent(body.batch_id)}`);
        render(body);
        poll(body.batch_id);
      } else {
        panel.hidden = true;
        refused(body, xhr.status);
      }
    };
    xhr.onerror = () => { panel.hidden = true; send.disabled = false; fail(say("lost_connection")); };
    xhr.send(data);
  });

  const shown = new URLSearchParams(location.search).get("batch");
  if (shown) poll(shown);
})();
