// Live job progress: events newer than the last one shown, over the jobs websocket
// (session cookie). Reconnects with the last sequence seen, so nothing is missed.
(function () {
  const root = document.getElementById("job");
  if (!root || root.dataset.terminal) return;
  let after = Number(root.dataset.after || 0);
  const list = document.getElementById("job-events");
  const statusBox = document.getElementById("job-status");
  const bar = document.getElementById("job-progress");
  const stage = document.getElementById("job-stage");
  // The server's terminal statuses (pipeline.transitions.TERMINAL), passed by the template.
  const terminal = new Set(JSON.parse(root.dataset.terminalStatuses || "[]"));
  // The same words as the server-rendered log (pipeline/views.py STATUS_WORDS).
  const statusWords = JSON.parse(root.dataset.statusWords || "{}");
  let retry = 500;

  function words(text) {
    text = String(text || "").replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function size(bytes) {
    const units = ["bytes", "KB", "MB", "GB"];
    let value = Number(bytes) || 0, unit = 0;
    while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return (unit ? value.toFixed(1) : String(value)) + "\u00a0" + units[unit];
  }

  // One readable line per event; null for program output (`log` events), which is for staff.
  function describe(event) {
    const d = event.data || {};
    if (event.type === "status") {
      let text = statusWords[d.status] || words(d.status);
      if (d.attempt > 1) text += " (attempt " + d.attempt + ")";
      if (d.error) text += ": " + d.error;
      return text;
    }
    if (event.type === "progress") return words(d.message || d.stage || "progress") + " (" + (d.progress || 0) + "%)";
    if (event.type === "output") return String(d.asset_type || "file").toUpperCase() + " file ready (" + size(d.size) + ")";
    return null;
  }

  function handle(event) {
    if (event.seq <= after) return;
    after = event.seq;
    const text = describe(event);
    if (text !== null) {
      const item = document.createElement("li");
      item.dataset.seq = event.seq;
      item.textContent = text;
      list.appendChild(item);
      list.scrollTop = list.scrollHeight;
    }
    const d = event.data || {};
    if (typeof d.progress === "number") bar.value = d.progress;
    if (event.type === "progress" && (d.message || d.stage)) stage.textContent = d.message || words(d.stage);
    if (event.type === "status" && d.status) {
      const badge = statusBox.querySelector("[data-status]");
      badge.textContent = d.status;
      badge.className = "badge " + (d.status === "completed" ? "ok" : terminal.has(d.status) ? "bad" : "warn");
      if (terminal.has(d.status)) setTimeout(() => window.location.reload(), 400);
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + "/api/v1/jobs-socket/" + root.dataset.jobId + "?after=" + after);
    socket.onmessage = (message) => handle(JSON.parse(message.data));
    socket.onopen = () => { retry = 500; };
    socket.onclose = (close) => {
      if (close.code === 4401 || close.code === 4403 || close.code === 4404) return;
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }
  connect();
})();
