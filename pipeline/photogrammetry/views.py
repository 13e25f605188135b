"""The /pipeline/ page: photos in (drag and drop, pre-flight verdicts), live stages, the model."""

import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .. import selectors
from ..models import Job
from ..transitions import TERMINAL
from .api import status_body
from .colmap import QUALITIES

RECENT_JOBS = 10


@login_required
def photogrammetry_page(request):
    """The upload form, and the caller's recent reconstructions (`?job=<id>` reopens one)."""
    jobs = list(selectors.job_list(user=request.user, kind=Job.Kind.PHOTOGRAMMETRY)[:RECENT_JOBS])
    wanted = request.GET.get("job", "")
    current = next((job for job in jobs if str(job.pk) == wanted), None)
    return render(request, "pipeline/photogrammetry.html", {
        "jobs": jobs, "current": json.dumps(status_body(current)) if current else "",
        "qualities": QUALITIES, "min_photos": settings.PHOTOGRAMMETRY_MIN_PHOTOS,
        "max_photos": settings.PHOTOGRAMMETRY_MAX_PHOTOS, "terminal_statuses": json.dumps(sorted(TERMINAL)),
        "price": settings.CREDIT_PRICES["photogrammetry"],
    })
