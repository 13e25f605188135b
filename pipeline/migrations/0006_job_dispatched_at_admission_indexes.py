"""Fair dispatch: `Job.dispatched_at` (when the run was handed to the task broker), indexes for
per-owner admission; jobs already queued or running were enqueued by the earlier code, so they
count as dispatched (none is enqueued twice, none is left waiting for a dispatch)."""

from django.conf import settings
from django.db import migrations, models
from django.db.models.functions import Coalesce

ENQUEUED = ["queued", "processing", "generating_images", "generating_video", "generating_audio", "composing"]


def mark_enqueued_as_dispatched(apps, schema_editor):
    Job = apps.get_model("pipeline", "Job")
    (Job.objects.filter(status__in=ENQUEUED, dispatched_at__isnull=True).exclude(engine="client")
     .update(dispatched_at=Coalesce("queued_at", "updated_at")))


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0001_initial'),
        ('pipeline', '0005_credits_state_choices'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='job',
            name='dispatched_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(mark_enqueued_as_dispatched, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(fields=['owner', 'status'], name='pipeline_job_owner_status'),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(fields=['visitor_ip', 'status'], name='pipeline_job_visitor_status'),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(fields=['visitor_ip', '-created_at'], name='pipeline_job_visitor_created'),
        ),
    ]
