"""Engines used only by the worker tests, loaded through PIPELINE_ENGINE_MODULES.

`slow_test` renders real SCAD after a few seconds of checkpoints (time to kill its worker);
`crash_test` kills the worker process outright, as a segfaulting native library would;
`long_test` is `slow_test` with a time limit longer than the test worker's task timeout;
`inputs_test` reads input assets named in its params.
"""

import os
import time
import uuid

from django.core.exceptions import ValidationError

from pipeline.engines import register
from pipeline.engines.scad.engine import ScadRenderLocal, render_outputs


class SlowScad(ScadRenderLocal):
    name = "slow_test"

    def run(self, ctx) -> dict:
        ctx.stage("processing")
        for step in range(int(ctx.params.get("prompt") or 12)):
            ctx.progress(step, "warming up")
            time.sleep(0.25)
        return render_outputs(ctx, scad=ctx.params["scad"], output_format=ctx.params["output_format"])


class CrashScad(ScadRenderLocal):
    name = "crash_test"

    def run(self, ctx) -> dict:
        ctx.stage("processing")
        ctx.progress(5, "about to crash")
        os._exit(1)


register(SlowScad())
register(CrashScad())


class LongScad(SlowScad):
    """Declares a time limit far above the test worker's lease and global task timeout."""

    name = "long_test"
    time_limit_seconds = 30


class InputsScad(ScadRenderLocal):
    """Reads the assets named in `images` (the shape the studio's engines will have)."""

    name = "inputs_test"

    def validate_params(self, params: dict, *, owner) -> dict:
        try:
            images = [uuid.UUID(str(i)) for i in params.get("images") or []]
        except ValueError:
            raise ValidationError({"images": ["A list of asset ids."]})
        rest = super().validate_params({k: v for k, v in params.items() if k != "images"}, owner=owner)
        return {**rest, "images": [str(i) for i in images]}

    def input_asset_ids(self, params: dict) -> list:
        return [uuid.UUID(i) for i in params.get("images", [])]


register(LongScad())
register(InputsScad())


class OrphanScad(ScadRenderLocal):
    """Works without a checkpoint until its job row is gone (its owner's account deleted), then
    logs a line and records a stage, as an engine between two checkpoints does."""

    name = "orphan_test"

    def run(self, ctx) -> dict:
        from pipeline.models import Job

        ctx.stage("processing")
        ctx.progress(1, "waiting")
        give_up = time.monotonic() + 20
        while Job.objects.filter(pk=ctx.job.pk).exists() and time.monotonic() < give_up:
            time.sleep(0.1)
        ctx.log("still working")
        ctx.stage("composing")
        return {}


register(OrphanScad())
