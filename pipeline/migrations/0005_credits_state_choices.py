"""credits_state: the empty string of a job that costs nothing becomes "none", then a constraint."""

from django.db import migrations, models


def empty_to_none(apps, schema_editor):
    apps.get_model("pipeline", "Job").objects.filter(credits_state="").update(credits_state="none")


def none_to_empty(apps, schema_editor):
    apps.get_model("pipeline", "Job").objects.filter(credits_state="none").update(credits_state="")


class Migration(migrations.Migration):
    dependencies = [("pipeline", "0004_job_owners_inputs_moderation_deadline")]

    operations = [
        migrations.RunPython(empty_to_none, none_to_empty),
        migrations.AddConstraint(
            model_name="job",
            constraint=models.CheckConstraint(
                condition=models.Q(("credits_state__in", ["none", "held", "settled", "released"])),
                name="pipeline_job_credits_state_valid",
            ),
        ),
    ]
