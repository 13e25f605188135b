"""Schedule the chat runs' reaper every minute (django-q2 Schedule row): runs past their
`status_timeout_seconds` end failed, and a run whose render job ended unnoticed is finished."""

from django.db import migrations

REAP = "chat.tasks.chat_runs_reap"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name="Finish or time out design chat runs",
        defaults={"func": REAP, "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=REAP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0002_chat_message_event_run"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
