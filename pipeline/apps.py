from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class PipelineConfig(AppConfig):
    name = "pipeline"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Each kind's engines declare its price; billing quotes from the registry they fill.
        from billing.pricing import price_register

        from .engines import engine_prices

        for kind, credits in engine_prices().items():
            price_register(kind, credits)
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
