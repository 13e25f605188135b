"""The assistant's actions (seed 001's `runpod` request): queued here, run by a django-q2 task.

`chat_run_request` validates, stores the asker's message, creates the `ChatRun` and announces
`runpod.queued`; the task `chat.tasks.chat_run_execute` runs it with the chosen backend (local,
RunPod or an OpenAI-compatible server, `chat.assistant.backends`). Nothing runs in a request or
a socket consumer.

generate_scad never keeps a worker waiting for its render: the task creates a `scad_render` job
in the chat's session and returns; when the job ends, pipeline calls
`chat_run_render_finished` (a job-finished listener registered in `ChatConfig.ready()`), which
checks the STL (`chat.assistant.checks.mesh_check`) and answers, or, for a model's SCAD that
failed, asks the model once more with the error (one repair round). The scheduled
`chat_runs_reap` finishes what a lost notification left and fails runs past their
`status_timeout_seconds`.
"""

import dataclasses
import logging
import shutil
import tempfile
import uuid
from datetime import timedelta
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from mozukai_hub.api.errors import ApplicationError, Conflict, TooManyRequests
from mozukai_hub.client_ip import client_ip_subject
from pipeline.models import Asset, Job, JobEvent
from pipeline.owners import JobOwner
from pipeline.services import job_cancel, job_create, job_start
from pipeline.storage import download_url

from . import selectors, services
from .models import Chat, ChatRun, Message

logger = logging.getLogger(__name__)

ACTIONS = {"process_requirements": ChatRun.Action.PROCESS_REQUIREMENTS, "generate_scad": ChatRun.Action.GENERATE_SCAD,
           "process_scad": ChatRun.Action.GENERATE_SCAD, "health": ChatRun.Action.HEALTH}
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
HISTORY_MAX_ITEMS = 100
UNFINISHED = (ChatRun.Status.QUEUED, ChatRun.Status.RUNNING, ChatRun.Status.RENDERING)
LOST_QUEUE_SECONDS = 300


class RunCancelled(Exception):
    """The run was stopped (or ended elsewhere): the worker stops quietly."""


class AssistantError(Exception):
    """The action failed for a reason worth telling the person; `error_type` classifies it."""

    def __init__(self, message: str, *, error_type: str = "assistant_error"):
        super().__init__(message)
        self.message, self.error_type = message, error_type


# --- Requests ------------------------------------------------------------------------------


def _action(value) -> str:
    action = ACTIONS.get(str(value or "").strip().lower())
    if action is None:
        raise ValidationError({"action": [f"Unknown action {value!r}; one of: {', '.join(ACTIONS)}."]})
    return str(action)


def _timeout(metadata_json) -> int:
    if metadata_json is None:
        return settings.CHAT_RUN_TIMEOUT_SECONDS
    if not isinstance(metadata_json, dict):
        raise ValidationError({"metadata_json": ["Expected a JSON object."]})
    value = metadata_json.get("status_timeout_seconds")
    if value is None:
        return settings.CHAT_RUN_TIMEOUT_SECONDS
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= MAX_TIMEOUT_SECONDS:
        raise ValidationError({"metadata_json.status_timeout_seconds": [f"A number of seconds from 1 to {MAX_TIMEOUT_SECONDS}."]})
    return int(value)


def _history(history) -> list[dict] | None:
    if history is None:
        return None
    if not isinstance(history, list) or len(history) > HISTORY_MAX_ITEMS:
        raise ValidationError({"history": [f"A list of at most {HISTORY_MAX_ITEMS} messages."]})
    cleaned = []
    for index, item in enumerate(history):
        if not isinstance(item, dict) or item.get("role") not in Message.Role.values or not isinstance(item.get("content"), str):
            raise ValidationError({f"history.{index}": [f"Each item is {{role, content}} with role one of: {', '.join(Message.Role.values)}."]})
        cleaned.append({"role": item["role"], "content": services.message_content_check(item["content"], field=f"history.{index}.content")})
    return cleaned


def _requirements_clean(value) -> dict:
    from .assistant.local import requirements_clean

    return requirements_clean(value)


def _runs_admit(*, user) -> None:
    """A user's caps on assistant actions (the socket bypasses DRF's throttles): 429 past them."""
    in_flight, per_minute = settings.CHAT_MAX_RUNS_IN_FLIGHT, settings.CHAT_MAX_RUNS_PER_MINUTE
    if not (in_flight or per_minute):
        return
    counts = ChatRun.objects.filter(chat__session__owner=user).aggregate(  # one statement for both caps
        running=Count("pk", filter=Q(status__in=UNFINISHED)),
        recent=Count("pk", filter=Q(created_at__gte=timezone.now() - timedelta(minutes=1))),
    )
    if in_flight and counts["running"] >= in_flight:
        raise TooManyRequests(f"You have {in_flight} assistant actions running; wait for one to finish.",
                              retry_after=5)
    if per_minute and counts["recent"] >= per_minute:
        raise TooManyRequests(f"At most {per_minute} assistant actions a minute.", retry_after=60)


def chat_run_request(*, chat: Chat, action: str, content: str | None = None, history: list | None = None,
                     requirements_json=None, metadata_json=None, backend: str | None = None,
                     client_ip: str | None = None) -> ChatRun:
    """Validate an action, store the asker's message, create the run and announce `runpod.queued`;
    the task runs it after commit. Bad input is a ValidationError naming the field; nothing is stored.
    `client_ip` is the asker's address: its free credits pay for a render first. The run keeps
    whom it stands for (`client_ip_subject`, as billing counts it) until it ends."""
    action = _action(action)
    timeout = _timeout(metadata_json)
    history = _history(history)
    if content is not None:
        services.message_content_check(content)
    content = (content or "").strip()
    requirements = None
    if requirements_json is not None and action != ChatRun.Action.HEALTH:
        requirements = _requirements_clean(requirements_json)
    if action == ChatRun.Action.PROCESS_REQUIREMENTS and not content and not history:
        raise ValidationError({"content": ["Say what to design (content), or send the history to read it from."]})
    if action == ChatRun.Action.GENERATE_SCAD and requirements is None and not content \
            and selectors.chat_latest_requirements(chat=chat) is None:
        raise ValidationError({"requirements_json": ["Required: there are no requirements in this chat yet "
                                                     "(send requirements_json, content, or run process_requirements first)."]})
    _runs_admit(user=chat.session.owner)
    backend = backend or settings.CHAT_BACKEND
    from .assistant.backends import backend_get

    backend_get(backend)  # an unknown or unconfigured backend is a 400 before anything is stored
    now = timezone.now()
    run_id = uuid.uuid4()

    def queued(prompt_id) -> tuple[str, dict]:
        return "runpod.queued", {"runpod_id": str(run_id), "message_id": str(prompt_id) if prompt_id else None,
                                 "status": "queued", "action": action}

    # One transaction, one numbering of the stream: the asker's message and `runpod.queued` (or
    # `runpod.queued` alone) are stored together, then the run. After commit the task is sent
    # first (hooks run in order), then the socket push.
    with transaction.atomic():
        transaction.on_commit(lambda: _enqueue(run), robust=True)
        prompt = None
        if content and action != ChatRun.Action.HEALTH:
            prompt_id = uuid.uuid4()
            prompt = services.message_create(chat=chat, role=Message.Role.USER, content=content, message_id=prompt_id,
                                             events_after=[queued(prompt_id)])
        else:
            services.chat_events_append(chat_id=chat.pk, events=[queued(None)])
        run = ChatRun.objects.create(
            id=run_id, chat=chat, action=action, backend=backend, prompt_message=prompt,
            client_ip=client_ip_subject(client_ip) if client_ip else None,
            timeout_seconds=timeout,
            deadline_at=now + timedelta(seconds=timeout),
            request={"content": content, "history": history, "requirements_json": requirements,
                     "metadata_json": metadata_json or {}},
        )
    return run


@cache
def _broker():
    from django_q.brokers import get_broker

    return get_broker()


def _enqueue(run: ChatRun) -> None:
    from django_q.tasks import async_task

    # A RunPod wait may last the whole timeout; the task's own limit follows it.
    # save=False: a run that ended keeps its outcome in its ChatRun row, so the cluster does not
    # store a Success row per run as well (a task that raised is still saved as a failure).
    async_task("chat.tasks.chat_run_execute", str(run.pk), task_name=f"chat-run:{run.pk}",
               timeout=min(run.timeout_seconds, settings.RUNPOD_TIMEOUT_SECONDS * 8) + 120, broker=_broker(),
               save=False)


def chat_run_wait(*, run: ChatRun, seconds: float) -> ChatRun:
    """`sync: true`: poll the run until it ends or `seconds` pass (the worker runs it)."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        run.refresh_from_db()
        if run.is_terminal or time.monotonic() >= deadline:
            return run
        time.sleep(0.2)  # a read every 200 ms of the wait, not a busy loop


# --- Ending a run --------------------------------------------------------------------------


def _run_end(*, run_id, status: str, output: dict | None = None, error: str = "", error_type: str = "",
             from_statuses=UNFINISHED) -> ChatRun | None:
    """Move the run to a terminal status once (conditional); the ended run, or None if it had ended."""
    with transaction.atomic():
        updated = ChatRun.objects.filter(pk=run_id, status__in=from_statuses).update(
            status=status, output=output or {}, error=error[:4000], error_type=error_type, finished_at=timezone.now(),
            client_ip=None)  # only a render needs the address, and it has been created by now
        if not updated:
            return None
        return ChatRun.objects.select_related("message").get(pk=run_id)


def _run_complete(run: ChatRun, *, output: dict) -> None:
    with transaction.atomic():
        ended = _run_end(run_id=run.pk, status=ChatRun.Status.COMPLETED, output=output)
        if ended is None:
            raise RunCancelled(str(run.pk))
        message = ended.message
        services.chat_event_append(chat_id=run.chat_id, type="runpod.completed", data={
            "runpod_id": str(run.pk), "status": "completed", "action": run.action,
            "message": {"id": str(message.pk), "role": message.role, "content": message.content} if message else None,
            "output": output,
        })


def _run_fail(run: ChatRun, *, error: str, error_type: str, output: dict | None = None) -> None:
    with transaction.atomic():
        ended = _run_end(run_id=run.pk, status=ChatRun.Status.FAILED, error=error, error_type=error_type,
                         output={"status": "failed", "error": error, **(output or {})})
        if ended is None:
            return
        if ended.message_id:
            message = Message.objects.get(pk=ended.message_id)
            text = message.content or f"Sorry, that did not work: {error}"
            services.message_finish(message_id=message.pk, chat_id=run.chat_id, status=Message.Status.FAILED, content=text)
        services.chat_event_append(chat_id=run.chat_id, type="runpod.failed", data={
            "runpod_id": str(run.pk), "status": "failed", "action": run.action, "error": error, "error_type": error_type,
            "message_id": str(ended.message_id) if ended.message_id else None,
        })
    _job_stop(ended)


def _job_stop(run: ChatRun) -> None:
    if run.job_id is None:
        return
    job = Job.objects.filter(pk=run.job_id).first()
    if job is not None and not job.is_terminal:
        try:
            job_cancel(job=job)
        except (Conflict, ApplicationError):
            pass  # it ended meanwhile


def chat_run_cancel(*, run: ChatRun) -> ChatRun:
    """"Stop generating": the partial text is kept and marked cancelled, the render job (if any)
    cancelled; a RunPod run is cancelled remotely by its worker, which sees the stop at its next poll."""
    with transaction.atomic():
        ended = _run_end(run_id=run.pk, status=ChatRun.Status.CANCELLED, error="Stopped by the user.", error_type="cancelled",
                         output={"status": "cancelled"})
        if ended is None:
            run.refresh_from_db()
            return run
        if ended.message_id:
            services.message_finish(message_id=ended.message_id, chat_id=run.chat_id, status=Message.Status.CANCELLED)
        services.chat_event_append(chat_id=run.chat_id, type="runpod.failed", data={
            "runpod_id": str(run.pk), "status": "cancelled", "action": run.action, "error": "Stopped by the user.",
            "error_type": "cancelled", "message_id": str(ended.message_id) if ended.message_id else None,
        })
    _job_stop(ended)
    return ChatRun.objects.get(pk=run.pk)


def chat_runs_stop(*, chat: Chat) -> list[ChatRun]:
    """Stop every unfinished run of the chat (the socket's `runpod.cancel` without an id, the stop button)."""
    return [chat_run_cancel(run=run) for run in selectors.chat_runs_unfinished(chat=chat)]


# --- The worker side -----------------------------------------------------------------------


class RunContext:
    """What a backend sees while it runs: the request, the streamed answer, stop and time checks."""

    def __init__(self, run: ChatRun):
        self.run = run
        self.chat = run.chat
        request = run.request or {}
        self.content = request.get("content") or ""
        stored = request.get("history")
        before = run.prompt_message.seq if run.prompt_message_id else None
        self.history = stored if stored is not None else selectors.chat_history(chat=self.chat, before_seq=before)
        self.requirements_json = request.get("requirements_json")
        self.message_id = run.message_id
        self.streamed = ""
        # A backend that answers at once (local) writes its reply in one go at the end: no
        # streaming message, no deltas; a model's answer streams as it comes.
        self.buffered = False

    def check(self, *, stopped: bool = True) -> None:
        """Raise RunCancelled when the run was stopped (`stopped=False` skips that read where a
        conditional write follows anyway), AssistantError when its time is up."""
        if stopped:
            status = ChatRun.objects.filter(pk=self.run.pk).values_list("status", flat=True).first()
            if status is None or status in ChatRun.TERMINAL:
                raise RunCancelled(str(self.run.pk))
        if timezone.now() > self.run.deadline_at:
            raise AssistantError(f"No answer within {self.run.timeout_seconds} s.", error_type="timeout")

    @property
    def seconds_left(self) -> float:
        return (self.run.deadline_at - timezone.now()).total_seconds()

    def reply_start(self) -> None:
        if self.message_id is None:
            with transaction.atomic():
                message = services.message_create(chat=self.chat, role=Message.Role.ASSISTANT, content="",
                                                  status=Message.Status.STREAMING)
                if not ChatRun.objects.filter(pk=self.run.pk, status__in=UNFINISHED).update(message=message):
                    transaction.set_rollback(True)
                    raise RunCancelled(str(self.run.pk))
            self.message_id = message.pk
            self.run.message_id = message.pk

    def delta(self, text: str) -> None:
        if not text:
            return
        room = settings.CHAT_MESSAGE_MAX_CHARS - len(self.streamed)
        if room <= 0:
            return
        text = text[:room]
        if self.buffered and self.message_id is None:
            self.streamed += text
            return
        self.reply_start()
        if not services.message_delta_append(message_id=self.message_id, chat_id=self.chat.pk, delta=text):
            raise RunCancelled(str(self.run.pk))
        self.streamed += text

    def progress(self, stage: str, message: str = "", **extra) -> None:
        services.chat_event_append(chat_id=self.chat.pk, type="runpod.progress", data={
            "runpod_id": str(self.run.pk), "status": "in_progress", "stage": stage, "message": message, **extra})

    def remote_id_set(self, remote_id: str) -> None:
        """The provider's id, stored before waiting on it."""
        ChatRun.objects.filter(pk=self.run.pk).update(remote_id=remote_id[:200])
        self.run.remote_id = remote_id
        self.progress("submitted", "Sent to the model server", remote_id=remote_id)


def chat_run_execute(run_id) -> str:
    """The task: claim the run (a conditional UPDATE: a duplicate delivery is a no-op) and run it."""
    from .assistant.backends import BackendUnavailable, backend_get

    now = timezone.now()
    if not ChatRun.objects.filter(pk=run_id, status=ChatRun.Status.QUEUED).update(status=ChatRun.Status.RUNNING, started_at=now):
        return "not claimable"
    # The chat's session and owner are read only by generate_scad, when it creates its render job.
    run = ChatRun.objects.select_related("chat", "prompt_message").get(pk=run_id)
    ctx = RunContext(run)
    try:
        ctx.check(stopped=False)  # just claimed: a stop from now on is seen by the next check or write
        backend = backend_get(run.backend)
        ctx.buffered = not backend.streams
        if backend.streams:
            ctx.progress("started", "Working on it")
        if run.action == ChatRun.Action.HEALTH:
            _run_complete(run, output={"status": "success", "health": backend.health()})
        elif run.action == ChatRun.Action.PROCESS_REQUIREMENTS:
            _requirements_run(ctx, backend)
        else:
            _scad_run(ctx, backend)
        return "done"
    except RunCancelled:
        return "cancelled"
    except (AssistantError, BackendUnavailable) as exc:
        _run_fail(run, error=exc.message, error_type=exc.error_type)
        return "failed"
    except ValidationError as exc:
        _run_fail(run, error="; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()), error_type="invalid")
        return "failed"
    except ApplicationError as exc:  # e.g. too many render jobs in flight
        _run_fail(run, error=exc.message, error_type=exc.code)
        return "failed"
    except Exception as exc:
        logger.exception("chat run %s crashed", run_id)
        _run_fail(run, error=f"Internal error: {type(exc).__name__}", error_type="internal")
        return "failed"


def _requirements_run(ctx: RunContext, backend) -> None:
    requirements, tokens = backend.requirements(ctx)
    answered_at_once = ctx.message_id is None
    ctx.check(stopped=not answered_at_once)  # answered at once: the run's conditional UPDATE below sees a stop
    output = {"status": "success", "requirements_json": requirements}
    if answered_at_once:
        # The whole reply in one transaction: the run ends (conditionally: a stop wins), then the
        # message, `message.created` and `runpod.completed` take two numbers in one statement
        # and are inserted with one insert each. The run row is locked before the chat row, in
        # the same order as a stop.
        run, message_id = ctx.run, uuid.uuid4()
        with transaction.atomic():
            if not ChatRun.objects.filter(pk=run.pk, status=ChatRun.Status.RUNNING).update(
                    status=ChatRun.Status.COMPLETED, message_id=message_id, output=output, error="", error_type="",
                    finished_at=timezone.now(), client_ip=None):
                raise RunCancelled(str(run.pk))
            services.message_create(
                chat=ctx.chat, role=Message.Role.ASSISTANT, content=ctx.streamed, parts={"requirements": requirements},
                tokens=tokens, message_id=message_id, events_after=[("runpod.completed", {
                    "runpod_id": str(run.pk), "status": "completed", "action": run.action,
                    "message": {"id": str(message_id), "role": str(Message.Role.ASSISTANT), "content": ctx.streamed},
                    "output": output,
                })])
        run.message_id = message_id
        return
    message = services.message_finish(message_id=ctx.message_id, chat_id=ctx.chat.pk, status=Message.Status.COMPLETE,
                                      parts={"requirements": requirements}, tokens=tokens)
    if message is None:
        raise RunCancelled(str(ctx.run.pk))
    _run_complete(ctx.run, output=output)


def _scad_requirements(ctx: RunContext, backend) -> tuple[dict, int]:
    """The card's (or caller's) requirements; else read from what was just said; else the chat's latest."""
    if ctx.requirements_json:
        return ctx.requirements_json, 0
    if ctx.run.design.get("requirements"):
        return ctx.run.design["requirements"], 0
    if ctx.content:
        return backend.requirements(ctx, quiet=True)
    return selectors.chat_latest_requirements(chat=ctx.chat), 0


def _scad_run(ctx: RunContext, backend, *, feedback: str | None = None) -> None:
    """Design (or redesign, with `feedback`), then hand the SCAD to a render job and return."""
    requirements, tokens = _scad_requirements(ctx, backend)
    while True:
        design, used = backend.design(ctx, requirements, feedback=feedback)
        tokens += used
        ctx.check()
        ctx.reply_start()
        owner = JobOwner.for_user(ctx.chat.session.owner, client_ip=ctx.run.client_ip)
        params = {"scad": design["source"], "output_format": "glb", "hardwarnings": True}
        if ctx.content:
            params["prompt"] = ctx.content[:2000]
        try:
            job = job_create(owner=owner, kind="scad_render", params=params, session=ctx.chat.session, start=False)
            break
        except ValidationError as exc:
            problems = " ".join(" ".join(v) for v in exc.message_dict.values())
            # A model's SCAD that reads files or costs too much gets the same one repair round.
            if ctx.run.repair_rounds >= backend.repair_rounds or not ChatRun.objects.filter(
                    pk=ctx.run.pk, repair_rounds=ctx.run.repair_rounds).update(repair_rounds=ctx.run.repair_rounds + 1):
                raise _RenderRefused(problems) from exc
            ctx.run.repair_rounds += 1
            feedback = f"The previous SCAD was refused before rendering: {problems}\nPrevious SCAD:\n{design['source']}"
            ctx.progress("repairing", "The SCAD was refused; asking for a fix", problem=problems[:1000])
    record = {**design, "requirements": requirements, "tokens": int(ctx.run.design.get("tokens") or 0) + tokens}
    with transaction.atomic():
        if not ChatRun.objects.filter(pk=ctx.run.pk, status=ChatRun.Status.RUNNING).update(
                status=ChatRun.Status.RENDERING, job=job, design=record):
            transaction.set_rollback(True)
            stopped = True
        else:
            stopped = False
            services.message_parts_update(message_id=ctx.message_id, chat_id=ctx.chat.pk, job=job, parts={
                "requirements": requirements, "scad": design["source"], "job_id": str(job.pk),
            })
            ctx.progress("rendering", "Rendering the model with OpenSCAD", job_id=str(job.pk))
    if stopped:  # stopped while designing: the job made for it must not wait in the queue
        job_cancel(job=job)
        raise RunCancelled(str(ctx.run.pk))
    job_start(job=job)  # moderation, then the queue; its end calls chat_run_render_finished


class _RenderRefused(AssistantError):
    def __init__(self, problems: str):
        super().__init__(f"The SCAD was refused before rendering: {problems}", error_type="scad_refused")
        self.problems = problems


def _scad_design_object(record: dict):
    from .assistant.scad import ScadDesign

    names = {f.name for f in dataclasses.fields(ScadDesign)}
    values = {k: v for k, v in record.items() if k in names}
    if "expected_bbox_mm" in values and values["expected_bbox_mm"] is not None:
        values["expected_bbox_mm"] = tuple(values["expected_bbox_mm"])
    return ScadDesign(**values)


def _openscad_problem(job: Job) -> str:
    """What OpenSCAD said (its warnings and errors, from the job's log), for the repair round."""
    lines = []
    for data in JobEvent.objects.filter(job=job, type="log").order_by("seq").values_list("data", flat=True):
        line = str((data or {}).get("line") or (data or {}).get("message") or "")
        if any(word in line for word in ("WARNING", "ERROR", "error", "Parser")):
            lines.append(line.strip())
    return "\n".join(lines[-10:]) or job.error or "OpenSCAD failed."


def _asset_links(job: Job) -> list[dict]:
    links = []
    for asset in Asset.objects.filter(job=job).order_by("asset_type"):
        url, expires_at = download_url(asset=asset)
        links.append({"id": str(asset.pk), "asset_type": asset.asset_type, "size": asset.size, "url": url,
                      "expires_at": expires_at.isoformat()})
    return links


def _stl_report(job: Job, design) -> dict:
    from .assistant.checks import mesh_check

    asset = Asset.objects.filter(job=job, asset_type="stl").first()
    if asset is None or not asset.file:
        return {"ok": False, "error": "The render produced no STL."}
    workdir = Path(tempfile.mkdtemp(prefix="chat-check-"))
    try:
        path = workdir / "model.stl"
        with asset.file.open("rb") as source, path.open("wb") as target:
            shutil.copyfileobj(source, target)
        return mesh_check(path, design)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def chat_run_render_finished(run_id) -> str:
    """The render job of a generate_scad run ended: check the mesh and answer, or repair once.
    Whatever goes wrong on the way ends the run `failed`, never leaves it waiting for its timeout."""
    try:
        return _render_finished(run_id)
    except RunCancelled:
        return "cancelled"
    except Exception as exc:
        logger.exception("chat run %s: finishing its render failed", run_id)
        run = ChatRun.objects.filter(pk=run_id).first()
        if run is not None:
            message = exc.message if isinstance(exc, (ApplicationError, AssistantError)) else "Checking the model failed."
            _run_fail(run, error=message, error_type=getattr(exc, "error_type", "") or "assistant_error")
        return "failed"


def _render_finished(run_id) -> str:
    from .assistant.backends import backend_get

    run = ChatRun.objects.select_related("chat__session__owner", "job", "prompt_message").filter(pk=run_id).first()
    if run is None or run.status != ChatRun.Status.RENDERING or run.job is None or not run.job.is_terminal:
        return "nothing to do"
    job, record = run.job, run.design
    backend = backend_get(run.backend)
    design = _scad_design_object(record)
    if job.status == Job.Status.CANCELLED:
        chat_run_cancel(run=run)
        return "cancelled"
    if job.status == Job.Status.COMPLETED:
        report = _stl_report(job, design)
        if report.get("ok"):
            return _scad_answer(run, design, report, record)
        problem = _report_problem(report)
    else:
        report, problem = None, _openscad_problem(job)
    if run.repair_rounds < backend.repair_rounds:
        return _repair(run, backend, problem)
    error = f"The model did not pass the checks: {problem}" if report else f"OpenSCAD could not render the model: {problem}"
    _run_fail(run, error=error, error_type="check_failed" if report else "scad_error",
              output={"scad": record.get("source"), "job_id": str(job.pk), "report": report})
    return "failed"


def _report_problem(report: dict) -> str:
    failed = [name for name, value in (report.get("checks") or {}).items()
              if value is False or (isinstance(value, dict) and value.get("ok") is False)]
    text = f"checks failed: {', '.join(failed)}" if failed else "checks failed"
    return f"{text}; bounding box {report.get('bbox_mm')} mm, expected {report.get('expected_bbox_mm')} mm, " \
           f"watertight: {report.get('watertight')}"


def _repair(run: ChatRun, backend, problem: str) -> str:
    """One more design from the model with the problem fed back, rendered the same way."""
    if not ChatRun.objects.filter(pk=run.pk, status=ChatRun.Status.RENDERING, repair_rounds=run.repair_rounds).update(
            status=ChatRun.Status.RUNNING, repair_rounds=run.repair_rounds + 1):
        return "nothing to do"
    run.refresh_from_db()
    ctx = RunContext(run)
    try:
        ctx.progress("repairing", "The model's SCAD failed its check; asking for a fix", problem=problem[:1000])
        ctx.delta("\n\nThat first version failed its check; fixing it.\n\n")
        _scad_run(ctx, backend, feedback=f"The previous SCAD failed: {problem}\nPrevious SCAD:\n{run.design.get('source', '')}")
        return "repairing"
    except RunCancelled:
        return "cancelled"
    except (AssistantError, ApplicationError) as exc:  # ApplicationError: the job's caps or credits said no
        _run_fail(run, error=exc.message, error_type=getattr(exc, "error_type", "") or exc.code)
        return "failed"


def _scad_answer(run: ChatRun, design, report: dict, record: dict) -> str:
    from .assistant.scad import design_reply

    job = run.job
    assets = _asset_links(job)
    text = design_reply(design, report)
    parts = {"requirements": record.get("requirements"), "scad": record.get("source"), "job_id": str(job.pk),
             "assets": [{k: a[k] for k in ("id", "asset_type", "size")} for a in assets], "report": report,
             "design": {k: record.get(k) for k in ("parameters", "expected_bbox_mm", "expected", "notes")}}
    with transaction.atomic():
        message = services.message_finish(message_id=run.message_id, chat_id=run.chat_id, status=Message.Status.COMPLETE,
                                          content=text, parts=parts, job=job,
                                          tokens=int((record.get("tokens") or 0)))
        if message is None:  # its reply was deleted meanwhile: the run ends here
            _run_end(run_id=run.pk, status=ChatRun.Status.CANCELLED, error="The reply was deleted.",
                     error_type="cancelled")
            return "cancelled"
        try:
            _run_complete(run, output={"status": "success", "scad": record.get("source"), "job_id": str(job.pk),
                                       "assets": assets, "report": report, "requirements_json": record.get("requirements")})
        except RunCancelled:
            transaction.set_rollback(True)
            return "cancelled"
    return "completed"


def chat_job_finished(job_id) -> None:
    """pipeline's job-finished listener: a chat run waiting on this job carries on, as a task (the
    mesh check and a repair round are slow; the listener runs in whatever process ended the job)."""
    from django_q.tasks import async_task

    for run_id in ChatRun.objects.filter(job_id=job_id, status=ChatRun.Status.RENDERING).values_list("id", flat=True):
        async_task("chat.tasks.chat_run_render_finished", str(run_id), task_name=f"chat-render:{run_id}",
                   broker=_broker(), save=False)


def chat_runs_reap() -> dict:
    """Scheduled every minute: fail runs past their timeout, finish runs whose job ended unnoticed,
    send again runs whose queue message was lost."""
    now = timezone.now()
    timed_out, finished, requeued = [], [], []
    for run in ChatRun.objects.filter(status__in=UNFINISHED, deadline_at__lt=now):
        _run_fail(run, error=f"No answer within {run.timeout_seconds} s.", error_type="timeout")
        timed_out.append(str(run.pk))
    ended = ChatRun.objects.filter(status=ChatRun.Status.RENDERING, job__finished_at__lt=now - timedelta(seconds=30))
    for run_id in ended.values_list("id", flat=True):
        chat_run_render_finished(run_id)  # never raises: a run that cannot finish ends failed
        finished.append(str(run_id))
    lost = ChatRun.objects.filter(status=ChatRun.Status.QUEUED, created_at__lt=now - timedelta(seconds=LOST_QUEUE_SECONDS))
    for run in lost:
        _enqueue(run)
        requeued.append(str(run.pk))
    return {"timed_out": timed_out, "finished": finished, "requeued": requeued}
