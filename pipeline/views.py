"""Jobs pages: list with a text-to-3D form, detail with live progress, 3D preview, downloads."""

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_POST

from mozukai_hub.api.errors import ApplicationError
from mozukai_hub.client_ip import client_ip

from . import selectors, services, storage
from .models import JobEvent
from .owners import JobOwner
from .transitions import TERMINAL

# What a customer reads for each status in the job's log (static/pipeline/job.js gets the same
# words through the page). Program output (`log` events) is for staff: the job's admin page.
STATUS_WORDS = {
    "pending": "Received",
    "validating": "Checking the request",
    "queued": "Waiting for a free worker",
    "processing": "Working on it",
    "generating_images": "Generating images",
    "generating_video": "Generating the video",
    "generating_audio": "Generating the audio",
    "composing": "Putting it together",
    "completed": "Done",
    "failed": "Failed",
    "cancelled": "Cancelled",
}


def event_text(event: JobEvent) -> str | None:
    """One readable line for the customer's log; None for events customers do not see."""
    data = event.data or {}
    if event.type == JobEvent.Type.STATUS:
        status = str(data.get("status", ""))
        text = STATUS_WORDS.get(status, status.replace("_", " ").capitalize())
        if int(data.get("attempt") or 1) > 1:
            text += f" (attempt {data['attempt']})"
        if data.get("error"):
            text += f": {data['error']}"
        return text
    if event.type == JobEvent.Type.PROGRESS:
        text = str(data.get("message") or data.get("stage") or "Progress").replace("_", " ")
        return f"{text[:1].upper()}{text[1:]} ({data.get('progress', 0)}%)"
    if event.type == JobEvent.Type.OUTPUT:
        return f"{str(data.get('asset_type', 'file')).upper()} file ready ({filesizeformat(data.get('size') or 0)})"
    return None


class TextTo3DForm(forms.Form):
    prompt = forms.CharField(
        max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        initial="a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole",
        help_text=(
            "Bonsai pot, planter/tray, enclosure box, bracket, quadcopter frame, chair or stool, table, "
            "shelf, vase, cup or mug, with sizes in mm or cm."
        ),
    )
    output_format = forms.ChoiceField(choices=[("glb", "GLB (3D preview)"), ("stl", "STL (printing)")], initial="glb")


@login_required
def job_list(request):
    form = TextTo3DForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.job_create(
                owner=JobOwner(user=request.user, client_ip=client_ip(request)), prompt=form.cleaned_data["prompt"],
                output_format=form.cleaned_data["output_format"],
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:
            for error in exc.messages:
                form.add_error(None, error)
        else:
            return redirect("pipeline-job-detail", job_id=job.pk)
    page = Paginator(selectors.job_list(user=request.user, status=request.GET.get("status") or None), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "pipeline/job_list.html", {"form": form, "page": page})


@login_required
def job_detail(request, job_id):
    job = selectors.job_get_for_user(user=request.user, job_id=job_id)
    outputs = []
    for asset in job.asset_list:
        if asset.file:
            url, expires_at = storage.download_url(asset=asset, request=request)
            outputs.append({"asset": asset, "url": url, "expires_at": expires_at})
    glb = next((o for o in outputs if o["asset"].asset_type == "glb"), None)
    recent = selectors.job_events_after(job=job, after=max(0, job.last_event_seq - 50))
    lines = [{"seq": e.seq, "text": text} for e in recent if (text := event_text(e)) is not None]
    step = next((e.data.get("message") for e in reversed(recent) if e.type == JobEvent.Type.PROGRESS), None)
    return render(request, "pipeline/job_detail.html", {
        "job": job, "outputs": outputs, "glb": glb, "lines": lines, "step": step or job.stage.replace("_", " "),
        "status_words": json.dumps(STATUS_WORDS),
        "terminal_statuses": json.dumps(sorted(TERMINAL)),
    })


@login_required
@require_POST
def job_cancel(request, job_id):
    job = selectors.job_get_for_user(user=request.user, job_id=job_id)
    try:
        services.job_cancel(job=job)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Job cancelled; its credits were returned.")
    return redirect("pipeline-job-detail", job_id=job.pk)
