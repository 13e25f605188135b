"""Anonymous owners (visitor IP + token hash), job inputs, the moderation record, the run deadline.

credits_state becomes a choice field here; its data and constraint follow in 0005.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0001_initial'),
        ('pipeline', '0003_job_ids_are_time_ordered'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='JobInput',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('asset_ref', models.UUIDField(help_text="The asset's id, kept when the asset is deleted")),
                ('role', models.CharField(choices=[('output', 'Output'), ('upload', 'Upload'), ('selfie', 'Selfie'), ('ref', 'Ref'), ('copy_target', 'Copy Target'), ('profile_photo', 'Profile Photo'), ('photo', 'Photo')], max_length=16)),
            ],
            options={
                'ordering': ['job', 'id'],
            },
        ),
        migrations.AddField(
            model_name='job',
            name='deadline_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='job',
            name='moderation',
            field=models.JSONField(blank=True, default=dict, help_text='The moderation verdict (Verdict.as_dict())'),
        ),
        migrations.AddField(
            model_name='job',
            name='visitor_ip',
            field=models.GenericIPAddressField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='job',
            name='visitor_token_hash',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AlterField(
            model_name='asset',
            name='owner',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='assets', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='job',
            name='credits_state',
            field=models.CharField(choices=[('none', 'None'), ('held', 'Held'), ('settled', 'Settled'), ('released', 'Released')], default='none', max_length=16),
        ),
        migrations.AlterField(
            model_name='job',
            name='owner',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='jobs', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddConstraint(
            model_name='asset',
            constraint=models.CheckConstraint(condition=models.Q(('owner__isnull', False), ('job__isnull', False), _connector='OR'), name='pipeline_asset_owned'),
        ),
        migrations.AddConstraint(
            model_name='job',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('owner__isnull', False), ('visitor_ip__isnull', True), ('visitor_token_hash', '')), models.Q(('owner__isnull', True), ('visitor_ip__isnull', False), models.Q(('visitor_token_hash', ''), _negated=True)), _connector='OR'), name='pipeline_job_one_kind_of_owner'),
        ),
        migrations.AddField(
            model_name='jobinput',
            name='asset',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='job_inputs', to='pipeline.asset'),
        ),
        migrations.AddField(
            model_name='jobinput',
            name='job',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='inputs', to='pipeline.job'),
        ),
        migrations.AddConstraint(
            model_name='jobinput',
            constraint=models.UniqueConstraint(fields=('job', 'asset_ref'), name='pipeline_jobinput_job_asset_unique'),
        ),
    ]
