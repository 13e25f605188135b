from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class PipelineConfig(AppConfig):
    name = "pipeline"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Each kind's engines declare its price; billing quotes from the registry they fill.
        from accounts.deletion import user_deletion_step_register
        from billing.pricing import price_register

        from .engines import engine_prices
        from .services.assets import assets_delete_for_user
        from .services.deletion import jobs_cancel_for_user

        for kind, credits in engine_prices().items():
            price_register(kind, credits)
        # Account deletion: jobs first (their holds go back before billing closes the account),
        # uploads and outputs last (files deleted after commit).
        user_deletion_step_register(name="pipeline.jobs", order=10, run=jobs_cancel_for_user)
        user_deletion_step_register(name="pipeline.assets", order=40, run=assets_delete_for_user)
        checks.register(check_task_retry_outlasts_jobs)


def check_task_retry_outlasts_jobs(app_configs=None, **kwargs):
    """django-q2 redelivers a task not acknowledged after `retry` seconds: a job task (its kind's
    time limit plus grace) living longer would run twice at once."""
    from .engines import engines_all, job_task_timeout

    retry = settings.Q_CLUSTER.get("retry", 60)
    errors = []
    for engine in engines_all():
        timeout = job_task_timeout(kind=engine.kind, name=engine.name)
        if timeout >= retry:
            errors.append(checks.Error(
                f"Jobs of {engine.kind} ({engine.name}) may run {timeout} s, but Q_CLUSTER retry is {retry} s.",
                hint=f"Set Q_RETRY above {timeout} (or lower that kind's PIPELINE_TIME_LIMIT_*).",
                id="pipeline.E001",
            ))
    return errors
