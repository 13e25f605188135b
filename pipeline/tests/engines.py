"""Engines used only by the worker tests, loaded through PIPELINE_ENGINE_MODULES.

`slow_test` renders real SCAD after a few seconds of checkpoints (time to kill its worker);
`crash_test` kills the worker process outright, as a segfaulting native library would.
"""

import os
import time

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
