// Films: the "new film" form and the scene editor, small clients of the JSON API (session cookie
// + CSRF token). New film → POST /api/v1/projects {kind: "film"}; Save → PATCH /api/v1/projects/{id};
// a scene image → POST /api/v1/assets/upload (type ref, project_id); Render → POST /api/v1/jobs
// {project_id}, whose nine states are followed over the jobs websocket; a completed film plays
// in the <video> with its WebVTT track, and its MP4 and VTT are offered for download.
(function () {
  const $ = (id) => document.getElementById(id);
  const csrfInput = document.querySelector("input[name=csrfmiddlewaretoken]");
  const csrf = csrfInput ? csrfInput.value : "";

  function showErrors(body) {
    const list = $("form-errors");
    if (!list) return;
    list.replaceChildren();
    const error = (body && body.error) || { message: "Something went wrong." };
    const entries = error.fields ? Object.entries(error.fields) : [["", [error.message]]];
    entries.forEach(([name, messages]) => [].concat(messages).forEach((message) => {
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
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) { showErrors(data); throw new Error(String(response.status)); }
    if ($("form-errors")) $("form-errors").replaceChildren();
    return data;
  }

  // --- /studio/films/: a new film starts with one scene showing its title -------------------
  const newFilm = $("new-film");
  if (newFilm) {
    newFilm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const title = $("new-film-title").value.trim();
      try {
        const project = await api("POST", "/api/v1/projects", {
          kind: "film", title, scenes: [{ narration: "", visual: title, duration_s: 3 }],
        });
        window.location.assign("/studio/films/" + project.id + "/");
      } catch (error) { /* shown by api() */ }
    });
  }

  const root = $("film-editor");
  if (!root) return;
  let project = JSON.parse($("project-data").textContent);
  const presets = JSON.parse($("presets-data").textContent);
  let job = JSON.parse($("job-data").textContent);
  const states = presets.states;
  const terminal = new Set(presets.terminal);
  const field = { title: $("f-title"), vibe: $("f-vibe"), aspect_ratio: $("f-aspect"), resolution: $("f-resolution"),
                  subtitles: $("f-subtitles"), voice: $("f-voice"), voice_speed: $("f-speed"), voice_pitch: $("f-pitch") };
  let scenes = (project.scenes || []).map((scene) => Object.assign({}, scene));
  const imageUrls = {};  // asset id → a signed URL for its thumbnail

  function option(select, value, label) {
    const item = document.createElement("option");
    item.value = value;
    item.textContent = label;
    select.appendChild(item);
  }
  presets.vibes.forEach((v) => option(field.vibe, v.key, v.name));
  presets.aspect_ratios.forEach((a) => option(field.aspect_ratio, a, a));
  presets.resolutions.forEach((r) => option(field.resolution, r, r));
  presets.voices.forEach((v) => option(field.voice, v.code, v.name + " (" + v.code + (v.gender ? ", " + v.gender : "") + ")"));
  field.voice_speed.min = presets.voice_speed.min; field.voice_speed.max = presets.voice_speed.max;
  field.voice_pitch.min = presets.voice_pitch.min; field.voice_pitch.max = presets.voice_pitch.max;

  function status(text) { $("form-status").textContent = text; }

  function showRanges() {
    $("f-speed-value").textContent = field.voice_speed.value;
    $("f-pitch-value").textContent = field.voice_pitch.value;
  }
  field.voice_speed.addEventListener("input", showRanges);
  field.voice_pitch.addEventListener("input", showRanges);

  function fill() {
    Object.entries(field).forEach(([name, input]) => {
      const value = project[name];
      if (value !== null && value !== undefined && value !== "") input.value = value;
    });
    if (!project.voice) field.voice.value = presets.default_voice;
    if (project.voice_speed == null) field.voice_speed.value = presets.voice_speed.default;
    if (project.voice_pitch == null) field.voice_pitch.value = presets.voice_pitch.default;
    $("project-title").textContent = project.title;
    showRanges();
    drawScenes();
  }

  // --- scenes --------------------------------------------------------------------------
  async function imageUrl(assetId) {
    if (!imageUrls[assetId]) {
      const link = await api("GET", "/api/v1/assets/" + assetId + "/download-url");
      imageUrls[assetId] = link.url;
    }
    return imageUrls[assetId];
  }

  function drawScenes() {
    const list = $("scenes");
    const template = $("scene-template");
    list.replaceChildren();
    scenes.forEach((scene, index) => {
      const item = template.content.firstElementChild.cloneNode(true);
      item.dataset.index = index;
      item.querySelector(".scene-number").textContent = "Scene " + (index + 1);
      item.querySelector("[data-field=narration]").value = scene.narration || "";
      item.querySelector("[data-field=visual]").value = scene.visual || "";
      item.querySelector("[data-field=duration_s]").value = scene.duration_s || 3;
      item.querySelector("[data-action=up]").disabled = index === 0;
      item.querySelector("[data-action=down]").disabled = index === scenes.length - 1;
      item.querySelector("[data-action=remove]").disabled = scenes.length === 1;
      const img = item.querySelector(".scene-image");
      const clear = item.querySelector("[data-action=clear-image]");
      if (scene.image_asset_id) {
        clear.hidden = false;
        img.alt = "Image of scene " + (index + 1);
        imageUrl(scene.image_asset_id).then((url) => { img.src = url; img.hidden = false; }).catch(() => {});
      }
      list.appendChild(item);
    });
  }

  function sceneOf(element) {
    const item = element.closest(".scene");
    return item ? Number(item.dataset.index) : -1;
  }

  $("scenes").addEventListener("input", (event) => {
    const index = sceneOf(event.target);
    const name = event.target.dataset.field;
    if (index < 0 || !name || name === "image") return;
    scenes[index][name] = name === "duration_s" ? Number(event.target.value) : event.target.value;
  });

  $("scenes").addEventListener("click", (event) => {
    const action = event.target.dataset.action;
    const index = sceneOf(event.target);
    if (!action || index < 0) return;
    if (action === "up" && index > 0) [scenes[index - 1], scenes[index]] = [scenes[index], scenes[index - 1]];
    if (action === "down" && index < scenes.length - 1) [scenes[index + 1], scenes[index]] = [scenes[index], scenes[index + 1]];
    if (action === "remove" && scenes.length > 1) scenes.splice(index, 1);
    if (action === "clear-image") scenes[index].image_asset_id = null;
    drawScenes();
  });

  $("scenes").addEventListener("change", async (event) => {
    if (event.target.dataset.field !== "image" || !event.target.files.length) return;
    const index = sceneOf(event.target);
    const form = new FormData();
    form.append("file", event.target.files[0]);
    form.append("type", "ref");
    form.append("project_id", project.id);
    status("Uploading the image of scene " + (index + 1) + "…");
    try {
      const asset = await api("POST", "/api/v1/assets/upload", form, true);
      scenes[index].image_asset_id = asset.id;
      status("Image of scene " + (index + 1) + " uploaded (save to keep it).");
      drawScenes();
    } catch (error) { status(""); }
  });

  $("add-scene").addEventListener("click", () => {
    if (scenes.length >= presets.max_scenes) { status("At most " + presets.max_scenes + " scenes."); return; }
    scenes.push({ narration: "", visual: "", duration_s: 3, image_asset_id: null });
    drawScenes();
    const items = $("scenes").querySelectorAll(".scene");
    items[items.length - 1].querySelector("[data-field=narration]").focus();
  });

  $("hear-voice").addEventListener("click", () => {
    const query = new URLSearchParams({ voice: field.voice.value, speed: field.voice_speed.value, pitch: field.voice_pitch.value });
    const audio = $("voice-sample");
    audio.src = root.dataset.voiceSampleUrl + "?" + query.toString();
    audio.play().catch(() => status("The voice sample could not be played (too many samples? wait a minute)."));
  });

  function body() {
    return {
      title: field.title.value.trim(), vibe: field.vibe.value, aspect_ratio: field.aspect_ratio.value,
      resolution: field.resolution.value, subtitles: field.subtitles.value, voice: field.voice.value,
      voice_speed: Number(field.voice_speed.value), voice_pitch: Number(field.voice_pitch.value),
      scenes: scenes.map((s) => ({ narration: s.narration || "", visual: s.visual || "",
                                   duration_s: Number(s.duration_s) || 1, image_asset_id: s.image_asset_id || null })),
    };
  }

  async function save() {
    project = await api("PATCH", "/api/v1/projects/" + project.id, body());
    scenes = project.scenes.map((scene) => Object.assign({}, scene));
    $("project-title").textContent = project.title;
    drawScenes();
    status("Saved.");
  }

  $("save").addEventListener("click", () => save().catch(() => status("Not saved.")));

  // --- render: the nine states, live ----------------------------------------------------
  function words(text) {
    text = String(text || "").replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  states.forEach((state) => {
    const item = document.createElement("li");
    item.dataset.state = state;
    item.textContent = words(state);
    $("timeline").appendChild(item);
  });

  function mark(statusName) {
    const items = Array.from($("timeline").children);
    const index = states.indexOf(statusName);
    if (index >= 0) {
      items.forEach((item, i) => {
        item.classList.toggle("done", i < index || statusName === "completed");
        item.classList.toggle("current", i === index && statusName !== "completed");
      });
    } else {
      const current = $("timeline").querySelector(".current");
      if (current) { current.classList.remove("current"); current.classList.add(statusName === "cancelled" ? "cancelled" : "failed"); }
    }
  }

  async function showFilm(jobId) {
    const link = async (type) => (await api("GET", "/api/v1/jobs/" + jobId + "/download-url?asset_type=" + type)).url;
    const [mp4, vtt, png] = await Promise.all([link("mp4"), link("vtt"), link("png").catch(() => "")]);
    const video = $("film-video");
    $("film-track").src = vtt;
    if (png) video.poster = png;
    video.src = mp4;
    video.hidden = false;
    const downloads = $("downloads");
    downloads.replaceChildren();
    [["MP4 video", mp4], ["WebVTT subtitles", vtt]].forEach(([label, url]) => {
      const item = document.createElement("li");
      const anchor = document.createElement("a");
      anchor.className = "button small";
      anchor.href = url;
      anchor.textContent = label;
      item.appendChild(anchor);
      downloads.appendChild(item);
    });
  }

  let socket = null;
  function follow(current) {
    job = current;
    const bar = $("job-progress");
    bar.value = job.progress || 0;
    (job.reached || [job.status]).forEach(mark);
    $("job-error").hidden = !job.error;
    $("job-error").textContent = job.error || "";
    if (job.status === "completed") { showFilm(job.id).catch(() => {}); return; }
    if (terminal.has(job.status)) return;
    let after = job.after || 0;
    let retry = 500;
    const connect = () => {
      const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + window.location.host + "/api/v1/jobs-socket/" + job.id + "?after=" + after);
      socket.onopen = () => { retry = 500; };
      socket.onmessage = (message) => {
        const event = JSON.parse(message.data);
        if (event.seq <= after) return;
        after = event.seq;
        const d = event.data || {};
        if (typeof d.progress === "number") bar.value = d.progress;
        if (event.type === "progress" && (d.message || d.stage)) $("job-stage").textContent = d.message || words(d.stage);
        if (event.type === "status" && d.status) {
          mark(d.status);
          if (d.error) { $("job-error").hidden = false; $("job-error").textContent = d.error; }
          if (terminal.has(d.status)) {
            socket.onclose = null;
            socket.close();
            if (d.status === "completed") {
              $("job-stage").textContent = "Done.";
              showFilm(job.id).catch(() => status("The film is ready; reload to watch it."));
            }
          }
        }
      };
      socket.onclose = (close) => {
        if (close.code === 4401 || close.code === 4403 || close.code === 4404) return;
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 10000);
      };
    };
    connect();
  }

  $("render").addEventListener("click", async () => {
    const button = $("render");
    button.disabled = true;
    try {
      await save();
      if (socket) { socket.onclose = null; socket.close(); }
      Array.from($("timeline").children).forEach((item) => { item.className = ""; });
      $("film-video").hidden = true;
      $("downloads").replaceChildren();
      $("job-stage").textContent = "";
      const created = await api("POST", "/api/v1/jobs", { project_id: project.id });
      status("Rendering: " + created.credit_cost + " credits held until it completes.");
      follow({ id: created.id, status: created.status, progress: created.progress, after: 0, error: created.error,
               reached: [] });
    } catch (error) {
      status("Not rendered.");
    } finally {
      button.disabled = false;
    }
  });

  fill();
  if (job) follow(job);
})();
