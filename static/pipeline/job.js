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
  const terminal = new Set(["completed", "failed", "cancelled"]);
  let retry = 500;

  function describe(event) {
    const d = event.data || {};
    let text = "#" + event.seq + " " + event.type + ": " + (d.status || d.message || d.asset_type || "");
    if (event.type === "progress") text += " " + d.progress + "%";
    return text;
  }

  function handle(event) {
    if (event.seq <= after) return;
    after = event.seq;
    const item = document.createElement("li");
    item.textContent = describe(event);
    list.appendChild(item);
    list.scrollTop = list.scrollHeight;
    const d = event.data || {};
    if (typeof d.progress === "number") bar.value = d.progress;
    if (d.stage) stage.textContent = d.stage;
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
