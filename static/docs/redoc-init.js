// ReDoc for /redoc and /api/v1/redoc (templates/drf_spectacular/redoc.html): the schema URL and
// REDOC_UI_SETTINGS come from the container's data attributes, so the page has no inline script.
(function () {
  const container = document.getElementById("redoc-container");
  const settings = JSON.parse(container.dataset.settings || "{}");
  Redoc.init(container.dataset.specUrl, settings, container);
})();
