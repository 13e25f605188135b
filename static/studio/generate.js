// The photo generator page: upload → POST /api/v1/generate → follow GET /api/v1/generate/{id}
// (with the visitor token for anonymous visitors) → before/after compare and download.
// No inline script or style attribute: the CSP allows neither (styles are set through the CSSOM).
(function () {
  const root = document.getElementById("generate");
  if (!root) return;
  const form = document.getElementById("generate-form");
  const fileInput = document.getElementById("generate-file");
  const submit = document.getElementById("generate-submit");
  const errorBox = document.getElementById("generate-error");
  const jobBox = document.getElementById("generate-job");
  const statusBadge = document.getElementById("generate-status");
  const progress = document.getElementById("generate-progress");
  const stage = document.getElementById("generate-stage");
  const compare = document.getElementById("generate-compare");
  const compareControl = document.getElementById("generate-compare-control");
  const before = document.getElementById("generate-before");
  const after = document.getElementById("generate-after");
  const afterFrame = document.getElementById("generate-after-frame");
  const slider = document.getElementById("generate-slider");
  const downloadRow = document.getElementById("generate-download-row");
  const download = document.getElementById("generate-download");
  const creditsLeft = document.getElementById("credits-left");
  const TERMINAL = new Set(["completed", "failed", "cancelled"]);
  let beforeUrl = null;
  let polling = null;
  let following = 0;  // which job the page follows: an older job's poll still in flight is dropped

  function csrfToken() {
    const field = form.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function showError(message) {
    errorBox.textContent = "";
    if (!message) { errorBox.hidden = true; return; }
    errorBox.textContent = message;
    if (message.indexOf("/credits/") !== -1) {
      const link = document.createElement("a");
      link.href = "/credits/";
      link.textContent = "See the credit packs";
      errorBox.appendChild(document.createTextNode(" "));
      errorBox.appendChild(link);
    }
    errorBox.hidden = false;
  }

  function errorText(body, status) {
    const error = (body && body.error) || {};
    const fields = error.fields || {};
    const firstField = Object.keys(fields)[0];
    if (firstField && Array.isArray(fields[firstField]) && fields[firstField].length) {
      return (firstField === "file" ? "Photo: " : firstField === "category" ? "Style: " : firstField + ": ") + fields[firstField][0];
    }
    return error.message || "The request failed (HTTP " + status + ").";
  }

  async function refreshCredits() {
    try {
      const answer = await fetch(root.dataset.creditsApi, {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (answer.ok) creditsLeft.textContent = String((await answer.json()).credits);
    } catch (err) { /* the figure stays as it was; the next refresh corrects it */ }
  }

  function setStatus(data) {
    statusBadge.textContent = data.status;
    statusBadge.className = "badge " + (data.status === "completed" ? "ok" : TERMINAL.has(data.status) ? "bad" : "warn");
    progress.value = Number(data.progress || 0);
    stage.textContent = data.status === "completed" ? "Done" : (data.stage || "").replace(/_/g, " ");
  }

  function showResult(data) {
    after.src = data.outputUrl;
    download.href = data.outputUrl;
    compare.hidden = false;
    compareControl.hidden = false;
    downloadRow.hidden = false;
    slider.value = "50";
    clip();
  }

  function clip() {
    // The styled photo covers the right part of the frame, from the slider's position.
    afterFrame.style.clipPath = "inset(0 0 0 " + slider.value + "%)";
  }

  function follow(jobId, token) {
    const headers = {Accept: "application/json"};
    if (token) headers["X-Visitor-Token"] = token;
    const mine = ++following;
    let delay = 500;
    async function poll() {
      let data;
      try {
        const answer = await fetch(root.dataset.api + "/" + jobId, {credentials: "same-origin", headers: headers});
        data = await answer.json();
        if (mine !== following) return;
        if (!answer.ok) { showError(errorText(data, answer.status)); finish(); return; }
      } catch (err) {
        if (mine === following) polling = setTimeout(poll, 2000);
        return;
      }
      setStatus(data);
      if (data.status === "completed" && data.outputUrl) {
        showResult(data);
        finish();
      } else if (TERMINAL.has(data.status)) {
        showError(data.error || "The photo could not be styled.");
        finish();
      } else {
        delay = Math.min(delay * 1.3, 2000);
        polling = setTimeout(poll, delay);
      }
    }
    poll();
  }

  function finish() {
    polling = null;
    refreshCredits();
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    showError("");
    const file = fileInput.files && fileInput.files[0];
    if (!file) { showError("Choose a photo first."); return; }
    const category = form.querySelector("input[name=category]:checked");
    if (polling) { clearTimeout(polling); polling = null; }
    following += 1;  // stop following the previous photo
    const body = new FormData();
    body.append("file", file);
    body.append("category", category ? category.value : "");
    submit.disabled = true;
    let answer, data;
    try {
      answer = await fetch(root.dataset.api, {method: "POST", body: body, credentials: "same-origin",
                                              headers: {"X-CSRFToken": csrfToken(), Accept: "application/json"}});
      data = await answer.json();
    } catch (err) {
      showError("The upload failed: check your connection and try again.");
      submit.disabled = false;
      return;
    }
    if (answer.status !== 201) {
      showError(errorText(data, answer.status));
      submit.disabled = false;
      refreshCredits();
      return;
    }
    if (beforeUrl) URL.revokeObjectURL(beforeUrl);
    beforeUrl = URL.createObjectURL(file);
    before.src = beforeUrl;
    after.removeAttribute("src");
    compare.hidden = true;
    compareControl.hidden = true;
    downloadRow.hidden = true;
    jobBox.hidden = false;
    jobBox.dataset.jobId = data.job_id;
    submit.disabled = false;  // another photo may be sent while this one is styled
    setStatus({status: data.status, progress: 0});
    refreshCredits();  // the credit is held from now on
    follow(data.job_id, data.visitor_token);
  });

  slider.addEventListener("input", clip);
})();
