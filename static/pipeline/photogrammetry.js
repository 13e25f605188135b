// /pipeline/: choose or drop photos, see each photo's pre-flight verdict, build the model, follow
// its stages over the jobs websocket (session cookie), then view it and download GLB / PLY.
(function () {
  const root = document.getElementById("photogrammetry");
  if (!root) return;
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const terminal = new Set(JSON.parse(root.dataset.terminalStatuses || "[]"));
  const minPhotos = Number(root.dataset.minPhotos), maxPhotos = Number(root.dataset.maxPhotos);
  const $ = (id) => document.getElementById(id);
  const drop = $("pg-drop"), input = $("pg-files"), thumbs = $("pg-thumbs"), summary = $("pg-summary");
  const submit = $("pg-submit"), errorBox = $("pg-error");
  const STAGES = {
    photos: "Photos ready", features: "Finding features in each photo", matching: "Matching the photos with each other",
    mapping: "Placing the cameras in 3D", meshing: "Building the surface", outputs: "Saving the model",
  };
  let files = [], checked = 0, jobId = null, after = 0, lastStage = "", socket = null;

  function api(path, options) {
    const headers = { "X-CSRFToken": csrf, Accept: "application/json" };
    return fetch(path, { credentials: "same-origin", ...options, headers }).then((reply) =>
      reply.json().catch(() => ({})).then((body) => ({ ok: reply.ok, status: reply.status, body })));
  }

  function message(body) {
    const error = (body && body.error) || {};
    const fields = error.fields ? Object.values(error.fields).flat().join(" ") : "";
    return fields || error.message || "Something went wrong.";
  }

  function form(extra) {
    const data = new FormData();
    files.forEach((file) => data.append("images", file, file.name));
    Object.entries(extra || {}).forEach(([key, value]) => data.append(key, value));
    return data;
  }

  function showThumbs(verdicts) {
    thumbs.replaceChildren(...files.map((file, index) => {
      const item = document.createElement("li");
      const image = document.createElement("img");
      image.src = URL.createObjectURL(file);
      image.alt = file.name;
      image.onload = () => URL.revokeObjectURL(image.src);
      const verdict = document.createElement("span");
      verdict.className = "verdict";
      const found = verdicts && verdicts[index];
      if (found) {
        item.className = found.ok ? "good" : "bad";
        verdict.textContent = file.name + ": " + (found.ok ? "good" : found.problems.join(", "));
      } else {
        verdict.textContent = file.name + ": checking…";
      }
      item.dataset.name = file.name;
      item.append(image, verdict);
      return item;
    }));
  }

  function preflight() {
    const round = ++checked;
    submit.disabled = true;
    errorBox.textContent = "";
    showThumbs(null);
    if (files.length > maxPhotos) {
      summary.textContent = files.length + " photos chosen; at most " + maxPhotos + " are accepted.";
      return;
    }
    summary.textContent = "Checking " + files.length + " photos…";
    api("/api/v1/pipeline/preflight", { method: "POST", body: form() }).then(({ ok, body }) => {
      if (round !== checked) return;  // a newer choice of photos is being checked
      if (!ok) { summary.textContent = message(body); return; }
      showThumbs(body.photos);
      let text = body.summary;
      if (files.length < minPhotos) text += " Add photos: at least " + minPhotos + " are needed.";
      summary.textContent = text;
      submit.disabled = !body.ok || files.length < minPhotos;
    });
  }

  function add(list) {
    const known = new Set(files.map((f) => f.name + "/" + f.size));
    Array.from(list).forEach((file) => {
      if (!known.has(file.name + "/" + file.size)) files.push(file);
    });
    if (files.length) preflight();
  }

  input.addEventListener("change", () => { add(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach((name) => drop.addEventListener(name, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((name) => drop.addEventListener(name, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (event) => { event.preventDefault(); add(event.dataTransfer.files); });

  $("pg-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submit.disabled = true;
    errorBox.textContent = "";
    summary.textContent = "Uploading " + files.length + " photos…";
    const extra = { name: $("pg-name").value, quality: $("pg-quality").value };
    api("/api/v1/pipeline/upload", { method: "POST", body: form(extra) }).then(({ ok, body }) => {
      if (!ok) {
        errorBox.textContent = message(body);
        if (body.error && body.error.preflight) showThumbs(body.error.preflight.photos);
        submit.disabled = false;
        return;
      }
      summary.textContent = body.preflight.summary;
      follow(body.job_id, body.status);
    });
  });

  function setStatus(status) {
    const badge = $("pg-status");
    badge.textContent = status;
    badge.className = "badge " + (status === "completed" ? "ok" : terminal.has(status) ? "bad" : "warn");
    $("pg-cancel").hidden = terminal.has(status);
  }

  function stage(name, text) {
    if (!name || name === lastStage) return;
    const list = $("pg-stages");
    Array.from(list.children).forEach((item) => item.classList.add("done"));
    const item = document.createElement("li");
    item.dataset.stage = name;
    item.textContent = STAGES[name] || text || name;
    list.appendChild(item);
    lastStage = name;
  }

  function handle(event) {
    if (event.seq <= after) return;
    after = event.seq;
    const d = event.data || {};
    if (typeof d.progress === "number") $("pg-progress").value = d.progress;
    if (event.type === "progress") {
      stage(d.stage, d.message);
      $("pg-stage").textContent = d.message || STAGES[d.stage] || "";
    }
    if (event.type === "status" && d.status) {
      setStatus(d.status);
      if (terminal.has(d.status)) finished();
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/api/v1/jobs-socket/" + jobId + "?after=" + after);
    socket.onmessage = (incoming) => handle(JSON.parse(incoming.data));
    socket.onclose = (close) => {
      if (!jobId || [4401, 4403, 4404].includes(close.code) || socket.finished) return;
      setTimeout(connect, 1000);
    };
  }

  function follow(id, status) {
    jobId = id;
    after = 0;
    lastStage = "";
    $("pg-stages").replaceChildren();
    $("pg-job").hidden = false;
    $("pg-result").hidden = true;
    setStatus(status);
    connect();
  }

  function show(report) {
    setStatus(report.status);
    $("pg-job").hidden = false;
    $("pg-progress").value = report.progress;
    if (report.status === "completed") {
      $("pg-result").hidden = false;
      $("pg-quality-text").textContent = report.quality_text + " Estimated focal length: " +
        Math.round(report.quality.focal_px) + " px; each 3D point was seen in " + report.quality.mean_track_length +
        " photos on average.";
      const dropped = (report.preflight.dropped || []).map((d) => d.name + " " + d.reasons.join(" and "));
      $("pg-dropped").textContent = dropped.length ? "Left out before the run: " + dropped.join("; ") + "." : "";
      $("pg-viewer").src = report.downloads.glb;
      $("pg-glb").href = report.downloads.glb;
      $("pg-ply").href = report.downloads.ply;
      $("pg-stage").textContent = "Done";
      $("pg-result").scrollIntoView({ behavior: "smooth", block: "start" });
    } else if (terminal.has(report.status)) {
      $("pg-stage").textContent = report.error || report.status;
      $("pg-stage").className = "error";
    }
  }

  function finished() {
    if (socket) { socket.finished = true; socket.close(); }
    api("/api/v1/pipeline/status/" + jobId, { method: "GET" }).then(({ ok, body }) => { if (ok) show(body); });
  }

  $("pg-cancel").addEventListener("click", () => {
    if (jobId) api("/api/v1/jobs/" + jobId + "/cancel", { method: "POST" });
  });

  if (root.dataset.current) {
    const report = JSON.parse(root.dataset.current);
    jobId = report.job_id;
    if (terminal.has(report.status)) show(report);
    else follow(report.job_id, report.status);
  }
})();
