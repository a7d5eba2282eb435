// Counter upload: drag-and-drop, one multipart POST with upload progress, then the batch's
// live status polled from the JSON API until every dossier is done.
(function () {
  "use strict";
  const zone = document.getElementById("drop-zone");
  const input = document.getElementById("file-input");
  const chosen = document.getElementById("chosen");
  const send = document.getElementById("send");
  const form = document.getElementById("upload-form");
  const errorBox = document.getElementById("upload-error");
  const panel = document.getElementById("progress-panel");
  const bar = document.getElementById("upload-progress");
  const state = document.getElementById("upload-state");
  const rows = document.querySelector("#batch-status tbody");
  let files = [];

  const STATUS = {
    received: "đã nhận", processing: "đang xử lý", archived: "đã lưu trữ",
    failed: "lỗi", duplicate: "trùng tệp",
  };

  function showFiles() {
    chosen.replaceChildren(...files.map((f) => {
      const li = document.createElement("li");
      li.textContent = `${f.name} (${Math.ceil(f.size / 1024)} KB)`;
      return li;
    }));
    send.disabled = files.length === 0;
  }
  function addFiles(list) { files = files.concat(Array.from(list)); showFiles(); }
  function fail(message) { errorBox.textContent = message; errorBox.hidden = false; }

  ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (e) => {
    e.preventDefault(); zone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, (e) => {
    e.preventDefault(); zone.classList.remove("over");
  }));
  zone.addEventListener("drop", (e) => addFiles(e.dataTransfer.files));
  input.addEventListener("change", () => { addFiles(input.files); input.value = ""; });

  function render(batch) {
    const done = batch.progress.pages_done, total = batch.progress.pages_total;
    if (total > 0) { bar.max = total; bar.value = done; }
    state.textContent = batch.finished
      ? "Xong: mọi hồ sơ của lô đã được xử lý."
      : `Đang xử lý: ${done}/${total} trang`;
    rows.replaceChildren(...batch.dossiers.map((d) => {
      const tr = document.createElement("tr");
      tr.dataset.status = d.status;
      const note = d.error || (d.duplicate_of ? `trùng với ${d.duplicate_of}` : (d.needs_review ? "cần kiểm tra" : ""));
      const pages = d.status === "processing" ? `${d.pages_done}/${d.pages}` : d.pages;
      [d.source, d.dossier_id, STATUS[d.status] || d.status, pages, d.dossier_code || "", note].forEach((v) => {
        const td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td);
      });
      return tr;
    }));
  }

  async function poll(batchId) {
    let batch;
    try {
      const response = await fetch(`/api/batches/${encodeURIComponent(batchId)}`, { credentials: "same-origin" });
      if (!response.ok) { fail(`Không đọc được trạng thái lô (${response.status})`); return; }
      batch = await response.json();
    } catch (_) {
      setTimeout(() => poll(batchId), 3000);  // the network hiccuped: the batch goes on
      return;
    }
    render(batch);
    if (!batch.finished) setTimeout(() => poll(batchId), 1000);
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    errorBox.hidden = true;
    const data = new FormData();
    files.forEach((f) => data.append("files", f, f.name));
    ["agency", "procedure", "post-office"].forEach((id) => {
      const field = document.getElementById(id);
      if (field.value.trim()) data.append(field.name, field.value.trim());
    });
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/batches");
    panel.hidden = false;
    bar.max = 100; bar.value = 0;
    state.textContent = "Đang tải lên…";
    send.disabled = true;
    xhr.upload.onprogress = (p) => {
      if (p.lengthComputable) { bar.max = p.total; bar.value = p.loaded; }
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status === 202) {
        document.getElementById("batch-id").textContent = body.batch_id;
        files = []; showFiles();
        render(body);
        poll(body.batch_id);
      } else {
        panel.hidden = true;
        files = []; showFiles();  // choose again, without the refused file
        fail(`Tải lên bị từ chối (${xhr.status}): ${body.detail || xhr.statusText}`);
      }
    };
    xhr.onerror = () => { panel.hidden = true; send.disabled = false; fail("Mất kết nối khi tải lên; các tệp vẫn còn trên máy, hãy gửi lại."); };
    xhr.send(data);
  });
})();
