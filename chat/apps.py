from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from pipeline.services.jobs import job_finished_listener_register

        from .runs import chat_job_finished

        # A generate_scad run continues when its render job ends; no worker waits for the job.
        job_finished_listener_register(name="chat.render", listener=chat_job_finished)
