from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "studio"
    verbose_name = "Studio"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # pipeline does not import studio: studio plugs its projects into pipeline's jobs and
        # uploads API (pipeline/api/hooks.py). `POST /jobs {project_id, quality, variants, model}`
        # takes its kind and params from the caller's project; `POST /assets/upload` with a
        # `project_id` records the upload as that project's input.
        from pipeline.api.hooks import job_source_register, upload_target_register

        from .services import project_job_source, project_upload_target

        job_source_register("project_id", project_job_source)
        upload_target_register("project_id", project_upload_target)
