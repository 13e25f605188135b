import uuid

from django.conf import settings
from django.db import models


class Session(models.Model):
    """A design session (seed 001): groups chats and the jobs they start."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        INACTIVE = "inactive"
        ARCHIVED = "archived"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="design_sessions")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    metadata_json = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=["active", "inactive", "archived"]), name="chat_session_status_valid"),
        ]

    def __str__(self):
        return self.name


class Chat(models.Model):
    """A conversation under a design session (seeds 000 and 001).

    `last_seq` numbers the chat's stream: every event (a message created, a streamed delta, a
    run queued or completed) takes the next number under the chat's row, and a message takes the
    number of its `message.created` event, so messages and events share one order.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="chats")
    title = models.CharField(max_length=200, blank=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["session", "-created_at"])]

    def __str__(self):
        return self.title or f"Chat {str(self.id)[:8]}"


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"
        SYSTEM = "system"
        TOOL = "tool"

    class Status(models.TextChoices):
        COMPLETE = "complete"
        STREAMING = "streaming"
        FAILED = "failed"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveBigIntegerField()
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    tokens = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    # Structured parts: {"requirements": {...}, "scad": "...", "job_id": "...", "report": {...}}.
    parts = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey("pipeline.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="chat_messages")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["chat", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["chat", "seq"], name="chat_message_seq_unique"),
            models.CheckConstraint(condition=models.Q(role__in=["user", "assistant", "system", "tool"]),
                                   name="chat_message_role_valid"),
            models.CheckConstraint(condition=models.Q(status__in=["complete", "streaming", "failed", "cancelled"]),
                                   name="chat_message_status_valid"),
        ]

    def __str__(self):
        return f"{self.role}: {self.content[:60]}"


class ChatEvent(models.Model):
    """One event of a chat's stream, replayed to sockets that reconnect with `?after=N`."""

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=32)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chat", "seq"]
        constraints = [models.UniqueConstraint(fields=["chat", "seq"], name="chat_event_seq_unique")]

    def __str__(self):
        return f"{self.type} #{self.seq}"

    def as_message(self) -> dict:
        return {**self.data, "type": self.type, "seq": self.seq}


class ChatRun(models.Model):
    """One assistant action (seed 001's `runpod` request): a django-q2 task runs it."""

    class Action(models.TextChoices):
        PROCESS_REQUIREMENTS = "process_requirements"
        GENERATE_SCAD = "generate_scad"
        HEALTH = "health"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        RENDERING = "rendering"  # waiting for its scad_render job (no worker waits for it)
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    TERMINAL = ("completed", "failed", "cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="runs")
    action = models.CharField(max_length=32, choices=Action.choices)
    backend = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # What was asked: content, history, requirements_json, metadata_json.
    request = models.JSONField(default=dict, blank=True)
    # The request's user message and the assistant's answer.
    prompt_message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    job = models.ForeignKey("pipeline.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="chat_runs")
    remote_id = models.CharField(max_length=200, blank=True)  # RunPod's id, stored before waiting
    repair_rounds = models.PositiveSmallIntegerField(default=0)
    design = models.JSONField(default=dict, blank=True)  # the SCAD design being rendered
    output = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    error_type = models.CharField(max_length=64, blank=True)
    # Whom the address the run was asked from stands for (`client_ip_subject`): its render job
    # spends that address's free credits first, as a job asked for directly does (what /credits
    # shows is what a chat can spend). Cleared when the run ends.
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    timeout_seconds = models.PositiveIntegerField()
    deadline_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "deadline_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "running", "rendering", "completed", "failed", "cancelled"]),
                name="chat_run_status_valid"),
            models.CheckConstraint(condition=models.Q(action__in=["process_requirements", "generate_scad", "health"]),
                                   name="chat_run_action_valid"),
        ]

    def __str__(self):
        return f"{self.action} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL
