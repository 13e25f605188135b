// The thumbnail editor: a small client of the JSON API (session cookie + CSRF token).
// Save → PATCH /api/v1/projects/{id}; selfie/reference → POST /api/v1/assets/upload with
// project_id; Generate → POST /api/v1/jobs {project_id, quality, variants, model}, followed live
// over the jobs websocket; the gallery shows job.result.variants with their score reports.
(function () {
  const root = document.getElementById("editor");
  if (!root) return;
  let project = JSON.parse(document.getElementById("project-data").textContent);
  const presets = JSON.parse(document.getElementById("presets-data").textContent);
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const platforms = Object.fromEntries(presets.platforms.map((p) => [p.key, p]));
  const vibes = Object.fromEntries(presets.vibes.map((v) => [v.key, v]));
  const terminal = new Set(presets.terminal);
  const $ = (id) => document.getElementById(id);
  const field = { platform: $("f-platform"), width: $("f-width"), height: $("f-height"), headline: $("f-headline"),
                  subtext: $("f-subtext"), vibe: $("f-vibe"), model: $("f-model"), quality: $("f-quality"),
                  variants: $("f-variants") };
  const images = {};  // role → HTMLImageElement of the project's latest input

  function option(select, value, label) {
    const item = document.createElement("option");
    item.value = value;
    item.textContent = label;
    select.appendChild(item);
  }
  presets.platforms.forEach((p) => option(field.platform, p.key, p.name + " (" + p.width + "×" + p.height + ")"));
  presets.vibes.forEach((v) => option(field.vibe, v.key, v.name));
  presets.engines.forEach((name) => option(field.model, name, name));
  Object.entries(presets.quality_price_units).forEach(([q, units]) => option(field.quality, q, q + " (" + units + "× credits)"));

  function fill() {
    ["platform", "width", "height", "headline", "subtext", "vibe"].forEach((name) => { field[name].value = project[name] ?? ""; });
    $("project-title").textContent = project.title;
    loadInputs();
    cost();
  }

  function status(text) { $("form-status").textContent = text; }

  function showErrors(body) {
    const list = $("form-errors");
    list.replaceChildren();
    const error = (body && body.error) || { message: "Something went wrong." };
    const entries = error.fields ? Object.entries(error.fields) : [["", [error.message]]];
    entries.forEach(([name, messages]) => messages.forEach((message) => {
      const item = document.createElement("li");
      item.textContent = (name ? name + ": " : "") + message;
      list.appendChild(item);
    }));
  }

  async function api(method, url, body, isForm) {
    const headers = { "X-CSRFToken": csrf, Accept: "application/json" };
    if (body && !isForm) headers["Content-Type"] = "application/json";
    const response = await fetch(url, { method, headers, credentials: "same-origin",
                                        body: body ? (isForm ? body : JSON.stringify(body)) : undefined });
    const data = response.status === 204 ? null : await response.json();
    if (!response.ok) { showErrors(data); throw new Error(String(response.status)); }
    $("form-errors").replaceChildren();
    return data;
  }

  function cost() {
    const units = presets.quality_price_units[field.quality.value] || 1;
    const variants = Number(field.variants.value) || 1;
    $("cost").textContent = variants * units + " unit" + (variants * units === 1 ? "" : "s") + " of the thumbnail price";
  }

  // --- the live preview: the frame at its aspect, the text, the platform's keep-out zones ---
  function wrap(ctx, text, width) {
    const words = text.split(/\s+/).filter(Boolean), lines = [];
    let line = "";
    words.forEach((word) => {
      const next = line ? line + " " + word : word;
      if (ctx.measureText(next).width > width && line) { lines.push(line); line = word; } else { line = next; }
    });
    if (line) lines.push(line);
    return lines;
  }

  function draw() {
    const canvas = $("preview"), ctx = canvas.getContext("2d");
    const platform = platforms[field.platform.value] || presets.platforms[0];
    const vibe = vibes[field.vibe.value] || presets.vibes[0];
    const w = Number(field.width.value) || platform.width, h = Number(field.height.value) || platform.height;
    const scale = Math.min(640 / w, 640 / h);
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    const W = canvas.width, H = canvas.height;
    ctx.fillStyle = vibe.palette.background;
    ctx.fillRect(0, 0, W, H);
    if (images.ref && images.ref.complete) {
      const s = Math.max(W / images.ref.naturalWidth, H / images.ref.naturalHeight);
      ctx.globalAlpha = 0.55;
      ctx.drawImage(images.ref, (W - images.ref.naturalWidth * s) / 2, (H - images.ref.naturalHeight * s) / 2,
                    images.ref.naturalWidth * s, images.ref.naturalHeight * s);
      ctx.globalAlpha = 1;
    }
    if (images.selfie && images.selfie.complete) {
      const sh = H * 0.7, sw = sh * images.selfie.naturalWidth / images.selfie.naturalHeight;
      ctx.drawImage(images.selfie, W * 0.62, H - sh, sw, sh);
    }
    const m = platform.margin;
    const box = { x: W * m, y: H * m, w: W * (0.62 - m), h: H * (1 - 2 * m) };
    let size = Math.round(H * 0.16);
    const upper = vibe.headline_case === "upper";
    const headline = upper ? field.headline.value.toUpperCase() : field.headline.value;
    let lines;
    do {
      ctx.font = "bold " + size + "px sans-serif";
      lines = wrap(ctx, headline, box.w);
      size -= 2;
    } while (size > 10 && lines.length * size * 1.15 > box.h * 0.7);
    ctx.textBaseline = "top";
    ctx.lineJoin = "round";
    lines.forEach((line, i) => {
      if (vibe.outline) { ctx.lineWidth = Math.max(2, size / 8); ctx.strokeStyle = vibe.palette.outline; ctx.strokeText(line, box.x, box.y + i * size * 1.15); }
      ctx.fillStyle = vibe.palette.text;
      ctx.fillText(line, box.x, box.y + i * size * 1.15);
    });
    if (field.subtext.value) {
      ctx.font = Math.round(size * 0.45) + "px sans-serif";
      ctx.fillStyle = vibe.palette.accent;
      ctx.fillText(field.subtext.value, box.x, box.y + lines.length * size * 1.15 + size * 0.2);
    }
    ctx.fillStyle = "rgba(229, 57, 53, .45)";
    ctx.strokeStyle = "#e53935";
    ctx.lineWidth = 1;
    platform.keep_out.forEach((z) => {
      ctx.fillRect(z.x * W, z.y * H, z.width * W, z.height * H);
      ctx.strokeRect(z.x * W, z.y * H, z.width * W, z.height * H);
    });
    ctx.setLineDash([6, 4]);
    ctx.strokeStyle = "#fdd835";
    ctx.lineWidth = 2;
    ctx.strokeRect(m * W, m * H, W * (1 - 2 * m), H * (1 - 2 * m));
    ctx.setLineDash([]);
  }

  function loadInputs() {
    const latest = {};
    (project.inputs || []).forEach((input) => { latest[input.role] = input; });
    ["selfie", "ref"].forEach((role) => {
      if (!latest[role]) return;
      const image = new Image();
      image.onload = draw;
      image.src = latest[role].url;
      images[role] = image;
    });
    $("inputs-list").textContent = Object.keys(latest).length
      ? "Uploaded: " + Object.keys(latest).map((r) => (r === "ref" ? "reference" : r)).join(", ") : "";
  }

  // Platform changed: its default size (the server derives it too when no size is sent).
  field.platform.addEventListener("change", () => {
    const p = platforms[field.platform.value];
    field.width.value = p.width;
    field.height.value = p.height;
    draw();
  });
  ["width", "height", "headline", "subtext", "vibe"].forEach((name) => field[name].addEventListener("input", draw));
  ["quality", "variants"].forEach((name) => field[name].addEventListener("input", cost));

  async function save() {
    const body = { platform: field.platform.value, headline: field.headline.value, subtext: field.subtext.value,
                   vibe: field.vibe.value, width: Number(field.width.value), height: Number(field.height.value) };
    if (["local", "nano_banana", "bytedance", "fal"].includes(field.model.value)) body.model_pref = field.model.value;
    project = await api("PATCH", "/api/v1/projects/" + project.id, body);
    fill();
    status("Saved.");
  }

  async function uploadInput(role, input) {
    if (!input.files.length) return;
    const form = new FormData();
    form.append("file", input.files[0]);
    form.append("type", role);
    form.append("project_id", project.id);
    status("Uploading…");
    await api("POST", "/api/v1/assets/upload", form, true);
    project = await api("GET", "/api/v1/projects/" + project.id);
    input.value = "";
    fill();
    status((role === "ref" ? "Reference" : "Selfie") + " uploaded.");
  }
  $("f-selfie").addEventListener("change", (e) => uploadInput("selfie", e.target).catch(() => status("")));
  $("f-ref").addEventListener("change", (e) => uploadInput("ref", e.target).catch(() => status("")));
  $("save").addEventListener("click", () => save().catch(() => status("")));

  // --- generate, follow the job live, show the variants ---
  function follow(job) {
    $("job-box").hidden = false;
    $("job-error").textContent = "";
    let after = 0, retry = 500, done = false;
    const badge = $("job-status");
    function show(statusName) {
      badge.textContent = statusName;
      badge.className = "badge " + (statusName === "completed" ? "ok" : terminal.has(statusName) ? "bad" : "warn");
    }
    show(job.status);
    function finish() {
      if (done) return;
      done = true;
      api("GET", "/api/v1/jobs/" + job.id).then((full) => {
        show(full.status);
        $("job-progress").value = full.progress;
        if (full.status === "completed") gallery(full);
        else $("job-error").textContent = full.error || full.status;
      });
    }
    function connect() {
      const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      const socket = new WebSocket(scheme + window.location.host + "/api/v1/jobs-socket/" + job.id + "?after=" + after);
      socket.onmessage = (message) => {
        const event = JSON.parse(message.data);
        if (event.seq <= after) return;
        after = event.seq;
        const d = event.data || {};
        if (typeof d.progress === "number") $("job-progress").value = d.progress;
        if (event.type === "progress" && (d.message || d.stage)) $("job-stage").textContent = d.message || d.stage;
        if (event.type === "status" && d.status) {
          show(d.status);
          if (terminal.has(d.status)) { socket.close(); finish(); }
        }
      };
      socket.onopen = () => { retry = 500; };
      socket.onclose = (close) => {
        if (done || close.code === 4401 || close.code === 4403 || close.code === 4404) return;
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 10000);
      };
    }
    if (terminal.has(job.status)) finish(); else connect();
  }

  function fact(list, term, value) {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value;
    list.append(dt, dd);
  }

  function gallery(job) {
    const box = $("gallery");
    box.replaceChildren();
    const outputs = Object.fromEntries((job.outputs || []).map((o) => [o.id, o]));
    ((job.result || {}).variants || []).forEach((variant) => {
      const png = outputs[variant.png_asset_id], jpg = outputs[variant.jpg_asset_id];
      if (!png) return;
      const card = document.createElement("figure");
      card.className = "variant";
      card.dataset.variant = variant.variant;
      const img = document.createElement("img");
      img.src = png.url;
      img.alt = "Variant " + variant.variant;
      img.addEventListener("click", () => { $("full-image").src = png.url; $("full-view").showModal(); });
      const caption = document.createElement("figcaption");
      caption.textContent = "Variant " + variant.variant;
      const report = variant.report || {}, list = document.createElement("dl");
      list.className = "facts report";
      if (report.contrast_ratio !== undefined) fact(list, "Contrast", Number(report.contrast_ratio).toFixed(1) + ":1");
      if (report.headline_height_share !== undefined) fact(list, "Text height", Math.round(report.headline_height_share * 100) + "% of the frame");
      if (report.legible_at_168x94 !== undefined) fact(list, "Legible at 168×94", report.legible_at_168x94 ? "yes" : "no");
      if (report.safe_zone_violations !== undefined) fact(list, "Safe-zone violations", String((report.safe_zone_violations || []).length));
      fact(list, "PNG", Math.round(png.size / 1024) + " KB");
      const links = document.createElement("p");
      links.className = "links";
      const full = document.createElement("button");
      full.type = "button";
      full.className = "button ghost small";
      full.textContent = "Full size";
      full.addEventListener("click", () => { $("full-image").src = png.url; $("full-view").showModal(); });
      links.appendChild(full);
      [["PNG", png], ["JPEG", jpg]].forEach(([label, output]) => {
        if (!output) return;
        const a = document.createElement("a");
        a.className = "button small";
        a.href = output.url;
        a.textContent = "Download " + label;
        a.setAttribute("download", "");
        links.appendChild(a);
      });
      card.append(img, caption, list, links);
      box.appendChild(card);
    });
    if (!box.children.length) box.textContent = "This job has no variants.";
  }

  async function generate() {
    await save();
    const body = { project_id: project.id, quality: field.quality.value, variants: Number(field.variants.value) || 1,
                   model: field.model.value };
    const job = await api("POST", "/api/v1/jobs", body);
    status("Generating " + body.variants + " variant" + (body.variants === 1 ? "" : "s") + " (" + job.cost_credits + " credits).");
    follow(job);
  }
  $("generate").addEventListener("click", () => generate().catch(() => {}));

  fill();
  if (presets.engines.includes(project.model_pref)) field.model.value = project.model_pref;
  draw();
  // The latest job of this project: follow it if running, else show its variants.
  const latest = (project.jobs || [])[0];
  if (latest) api("GET", "/api/v1/jobs/" + latest.id).then(follow);
})();
