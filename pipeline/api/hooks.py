"""Two extension points of the jobs and uploads API, for apps built on pipeline.

pipeline imports none of the apps built on it (studio depends on pipeline, not the reverse).
An app fills these in from its `AppConfig.ready()`; pipeline calls them by the request field
they handle. Today studio registers both for `project_id` (see studio/apps.py).

- `job_source_register(field, resolve)`: a `POST /api/v1/jobs` body carrying `field` is turned,
  before `pipeline.services.job_create`, into the job's kind and params by
  `resolve(*, user, value, options) -> (kind, params)`. `options` holds the body's other source
  options (`quality`, `variants`; only the ones sent). `resolve` raises Http404 for something the
  caller may not use (another user's project) and Django's ValidationError (naming the field)
  for bad options; the params it returns are still checked by the engine's `validate_params`.
- `upload_target_register(field, resolve)`: a `POST /api/v1/assets/upload` carrying `field` calls
  `resolve(*, user, value) -> attach` BEFORE anything is stored (Http404 for another user's
  target: nothing is stored), then `attach(asset)` in the upload's transaction once the asset is.
"""

from collections.abc import Callable

JobSource = Callable[..., tuple[str, dict]]
UploadTarget = Callable[..., Callable[[object], object]]

_job_sources: dict[str, JobSource] = {}
_upload_targets: dict[str, UploadTarget] = {}


def job_source_register(field: str, resolve: JobSource) -> None:
    _job_sources[field] = resolve


def upload_target_register(field: str, resolve: UploadTarget) -> None:
    _upload_targets[field] = resolve


def job_source(field: str) -> JobSource | None:
    return _job_sources.get(field)


def upload_target(field: str) -> UploadTarget | None:
    return _upload_targets.get(field)
