// The design chat page: events over the chat socket (session cookie), replayed from the last
// sequence number seen, so a reconnect misses nothing and shows nothing twice.
(function () {
  const root = document.getElementById("chat");
  if (!root) return;
  const chatId = root.dataset.chatId;
  const list = document.getElementById("messages");
  const statusLine = document.getElementById("chat-status");
  const composer = document.getElementById("composer");
  const text = document.getElementById("composer-text");
  const stopButton = document.getElementById("stop");
  const csrf = document.querySelector("#csrf input[name=csrfmiddlewaretoken]");
  let after = Number(root.dataset.after || 0);
  let socket = null;
  let retry = 500;
  const running = new Set();
  if (root.dataset.running) stopButton.hidden = false;

  function say(message) { statusLine.textContent = message || ""; }

  function updateStop() {
    stopButton.hidden = running.size === 0;
  }

  function element(tag, className, content) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  function messageItem(message) {
    let item = document.getElementById("msg-" + message.id);
    if (item) return item;
    const hint = document.getElementById("chat-hint");
    if (hint) hint.remove();
    item = element("li", "msg msg-" + message.role);
    item.id = "msg-" + message.id;
    item.dataset.messageId = message.id;
    item.dataset.seq = message.seq;
    item.appendChild(element("div", "msg-role", message.role.charAt(0).toUpperCase() + message.role.slice(1)));
    item.appendChild(element("div", "msg-text", message.content || ""));
    item.appendChild(element("div", "msg-parts"));
    list.appendChild(item);
    return item;
  }

  function setStatus(item, status) {
    item.className = item.className.replace(/\bstatus-\S+/g, "").trim() + " status-" + status;
    const role = item.querySelector(".msg-role");
    let badge = role.querySelector(".badge");
    if (status === "complete") { if (badge) badge.remove(); return; }
    if (!badge) { badge = element("span", "badge"); role.appendChild(document.createTextNode(" ")); role.appendChild(badge); }
    badge.textContent = status;
  }

  // --- Parts: requirements card, SCAD source, preview, downloads, check report --------------

  function partsOf(item) { return item.querySelector(".msg-parts"); }

  function requirementsCard(slot, requirements) {
    slot.textContent = "";
    slot.className = "req-card";
    slot.appendChild(element("h3", "", "Requirements"));
    const fields = [["model_type", "Model type", "input"], ["primary_function", "Purpose", "input"],
      ["description_natural_language", "Description", "textarea"], ["custom_description", "Details", "textarea"]];
    const inputs = {};
    fields.forEach(([key, label, tag]) => {
      const row = element("label", "req-row");
      row.appendChild(element("span", "req-label", label));
      const input = document.createElement(tag);
      input.name = key;
      input.value = requirements[key] == null ? "" : String(requirements[key]);
      if (tag === "textarea") input.rows = 2;
      row.appendChild(input);
      slot.appendChild(row);
      inputs[key] = input;
    });
    const dims = Array.isArray(requirements.dimensions) ? requirements.dimensions : [];
    const dimInputs = [];
    if (dims.length) {
      slot.appendChild(element("h4", "", "Dimensions"));
      dims.forEach((dim, index) => {
        const row = element("label", "req-row req-dim");
        const name = String(dim.label || dim.name || "size").replace(/_/g, " ");
        row.appendChild(element("span", "req-label", name.charAt(0).toUpperCase() + name.slice(1)));
        if (dim.source === "assumed") row.classList.add("assumed");
        const input = document.createElement("input");
        input.type = "number";
        input.step = "any";
        input.min = "0";
        input.name = "dimension-" + (dim.name || index);
        input.value = dim.value;
        row.appendChild(input);
        row.appendChild(element("span", "req-unit", dim.unit || "mm"));
        slot.appendChild(row);
        dimInputs.push([dim, input]);
      });
    }
    const components = Array.isArray(requirements.standard_components) ? requirements.standard_components : [];
    if (components.length) {
      slot.appendChild(element("h4", "", "Standard parts"));
      const ul = element("ul", "req-components");
      components.forEach((c) => ul.appendChild(element("li", "", (c.name || "") + (c.search_term ? " — " + c.search_term : ""))));
      slot.appendChild(ul);
    }
    const questions = Array.isArray(requirements.open_questions) ? requirements.open_questions : [];
    if (questions.length) {
      slot.appendChild(element("h4", "", "Still open"));
      const ul = element("ul", "req-questions");
      questions.forEach((q) => ul.appendChild(element("li", "", q)));
      slot.appendChild(ul);
    }
    const button = element("button", "button", "Generate model");
    button.type = "button";
    button.addEventListener("click", () => {
      const edited = JSON.parse(JSON.stringify(requirements));
      Object.keys(inputs).forEach((key) => { edited[key] = inputs[key].value; });
      edited.dimensions = dimInputs.map(([dim, input]) => {
        const value = Number(input.value);
        const copy = Object.assign({}, dim, { value: value });
        const scale = Number(dim.value) ? Number(dim.value_mm) / Number(dim.value) : 1;
        copy.value_mm = (dim.unit || "mm") === "mm" ? value : value * scale;
        return copy;
      });
      send({ type: "runpod.request", payload: { action: "generate_scad", content: "Generate the model with these requirements.", requirements_json: edited } });
    });
    slot.appendChild(button);
  }

  function renderParts(item, message) {
    const parts = message.parts || {};
    const box = partsOf(item);
    if (parts.requirements && !box.querySelector(".req-card")) {
      const slot = element("div", "req-card-slot");
      box.prepend(slot);
      requirementsCard(slot, parts.requirements);
    }
    if (parts.scad && !box.querySelector(".scad")) {
      const details = element("details", "scad");
      details.appendChild(element("summary", "", "OpenSCAD source"));
      const pre = element("pre");
      pre.appendChild(element("code", "", parts.scad));
      details.appendChild(pre);
      box.appendChild(details);
    }
    if (parts.report && !box.querySelector(".report")) {
      const r = parts.report;
      const size = Array.isArray(r.bbox_mm) ? r.bbox_mm.map((v) => Math.round(v * 10) / 10).join(" × ") : "?";
      box.appendChild(element("p", "report " + (r.ok ? "ok" : "bad"),
        "Check: " + (r.ok ? "passed" : "failed") + " · watertight " + (r.watertight ? "yes" : "no") + " · size " + size + " mm"));
    }
  }

  function renderAssets(item, assets) {
    const box = partsOf(item);
    const glb = assets.find((a) => a.asset_type === "glb");
    if (glb && !box.querySelector("model-viewer")) {
      const viewer = document.createElement("model-viewer");
      viewer.className = "viewer";
      viewer.setAttribute("src", glb.url);
      viewer.setAttribute("alt", "3D preview of the model");
      viewer.setAttribute("camera-controls", "");
      viewer.setAttribute("auto-rotate", "");
      viewer.setAttribute("shadow-intensity", "1");
      viewer.setAttribute("loading", "eager");  // the chat may be scrolled elsewhere: load it anyway
      box.appendChild(viewer);
      viewer.scrollIntoView({ block: "nearest" });
    }
    if (!box.querySelector(".downloads")) {
      const p = element("p", "downloads");
      assets.filter((a) => a.asset_type === "stl" || a.asset_type === "glb").forEach((a) => {
        const link = element("a", "button small", a.asset_type.toUpperCase());
        link.href = a.url;
        p.appendChild(link);
        p.appendChild(document.createTextNode(" "));
      });
      box.appendChild(p);
    }
  }

  // --- Events ------------------------------------------------------------------------------

  function handle(event) {
    if (typeof event.seq === "number") {
      if (event.seq <= after) return;
      after = event.seq;
    }
    switch (event.type) {
      case "message.created": {
        const item = messageItem(event.message);
        setStatus(item, event.message.status);
        renderParts(item, event.message);
        item.scrollIntoView({ block: "end" });
        break;
      }
      case "message.delta": {
        const item = document.getElementById("msg-" + event.message_id);
        if (item) item.querySelector(".msg-text").textContent += event.delta;
        break;
      }
      case "message.completed":
      case "message.updated": {
        const item = messageItem(event.message);
        item.querySelector(".msg-text").textContent = event.message.content;
        setStatus(item, event.message.status);
        renderParts(item, event.message);
        break;
      }
      case "message.deleted": {
        const item = document.getElementById("msg-" + event.message_id);
        if (item) item.remove();
        break;
      }
      case "runpod.queued":
        running.add(event.runpod_id);
        say(event.action === "generate_scad" ? "Designing the model…" : "Thinking…");
        break;
      case "runpod.progress":
        running.add(event.runpod_id);
        if (event.message) say(event.message + "…");
        break;
      case "runpod.completed": {
        running.delete(event.runpod_id);
        say("");
        const output = event.output || {};
        if (event.message && Array.isArray(output.assets)) {
          const item = document.getElementById("msg-" + event.message.id);
          if (item) renderAssets(item, output.assets);
        }
        if (output.health) say("Assistant: " + (output.health.status || "unknown"));
        break;
      }
      case "runpod.failed":
        running.delete(event.runpod_id);
        say(event.status === "cancelled" ? "Stopped." : "That did not work: " + (event.error || "unknown error"));
        break;
      case "error":
        say(event.message || "Something went wrong.");
        break;
      default:
        break;
    }
    updateStop();
  }

  function rest(path, body) {
    return fetch("/api/v1/chats/" + chatId + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.value : "" },
      body: JSON.stringify(body || {}),
    });
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
      return;
    }
    // Not connected right now: the same action over REST; its events arrive when we reconnect.
    if (message.type === "runpod.request") rest("/runpod", message.payload);
    else if (message.type === "runpod.cancel") rest("/stop");
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/api/v1/chat-socket/" + chatId + "?after=" + after);
    socket.onmessage = (message) => handle(JSON.parse(message.data));
    socket.onopen = () => { retry = 500; root.dataset.connected = "1"; };
    socket.onclose = (close) => {
      root.dataset.connected = "";
      if (close.code === 4401 || close.code === 4403 || close.code === 4404) { say("Please sign in again."); return; }
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  composer.addEventListener("submit", (submit) => {
    submit.preventDefault();
    const content = text.value.trim();
    if (!content) return;
    send({ type: "runpod.request", payload: { action: "process_requirements", content: content } });
    text.value = "";
  });
  text.addEventListener("keydown", (key) => {
    if (key.key === "Enter" && !key.shiftKey) { key.preventDefault(); composer.requestSubmit(); }
  });
  stopButton.addEventListener("click", () => send({ type: "runpod.cancel" }));

  document.querySelectorAll(".req-card-slot[data-requirements]").forEach((slot) => {
    requirementsCard(slot, JSON.parse(slot.dataset.requirements));
  });
  connect();
})();
