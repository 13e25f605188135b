"""Issue 10 groundwork: cost_credits, truthful valid-transitions, engine prices and time limits,
anonymous owners, job inputs, the moderation record, credits_state."""

import uuid
from datetime import timedelta

import pytest
from django.core import checks
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from billing.models import CreditAccount
from billing.pricing import price_of
from billing.services import credits_spendable
from mozukai_hub.api.errors import PaymentRequired
from mozukai_hub.testing.fixtures import bearer_client
from pipeline import selectors, services, tasks
from pipeline.engines import engine_get, engine_prices, engines_all, register
from pipeline.models import Asset, Job, JobEvent, JobInput
from pipeline.owners import JobOwner, visitor_token_hash
from pipeline.transitions import ALL_STATUSES, TERMINAL, TRANSITIONS

from . import engines as test_engines  # noqa: F401  (registers long_test and inputs_test)

TEST_CLIENT_IP = "127.0.0.1"  # REMOTE_ADDR of Django's test client

VISITOR_IP = "203.0.113.7"


# --- 1. seed 000's name -------------------------------------------------------------------


@pytest.mark.django_db
def test_job_create_answers_cost_credits_as_well_as_credit_cost(auth_client, funded_user):
    body = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot", "output_format": "glb"}, format="json").json()
    assert body["cost_credits"] == body["credit_cost"] == 1
    schema = auth_client.get("/api/v1/schema?format=json").json()
    job_schema = schema["components"]["schemas"]["Job"]["properties"]
    assert job_schema["cost_credits"]["type"] == "integer" and job_schema["cost_credits"]["readOnly"]


# --- 2. valid-transitions tells the truth ---------------------------------------------------


def _at(job_id, status: str) -> None:
    Job.objects.filter(pk=job_id).update(status=status, lease_token=None, lease_expires_at=None, finished_at=None)


@pytest.mark.django_db
@pytest.mark.parametrize("current", ALL_STATUSES)
@pytest.mark.parametrize("engine", ["local", "client"])
def test_valid_transitions_is_exactly_what_patch_accepts(auth_client, user, engine, current):
    """Every status listed is accepted by PATCH, every other one refused, in every state."""
    job_id = auth_client.post("/api/v1/jobs", {"kind": "scad_render", "engine": engine, "params": {"scad": "cube(1);"},
                                               "start": False}, format="json").json()["id"]
    _at(job_id, current)
    listed = auth_client.get(f"/api/v1/jobs/{job_id}/valid-transitions").json()["valid_transitions"]
    assert auth_client.get(f"/api/v1/jobs/{job_id}").json()["valid_transitions"] == listed
    if engine == "client":
        # the table, less what only moderation sets (POST …/start)
        assert listed == [target for target in TRANSITIONS[current] if target not in ("validating", "queued")]
    else:
        assert listed == ([] if current in TERMINAL else ["cancelled"])
    for target in ALL_STATUSES:
        if target == current:
            continue
        _at(job_id, current)
        response = auth_client.patch(f"/api/v1/jobs/{job_id}/status", {"status": target}, format="json")
        assert response.status_code == (200 if target in listed else 409), (target, response.content)
        if response.status_code == 409:
            assert response.json()["error"]["valid_transitions"] == listed
            assert Job.objects.get(pk=job_id).status == current


@pytest.mark.django_db
def test_owner_walks_a_client_job_through_every_state_by_patch(auth_client, user):
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a chair", "engine": "client", "start": False},
                              format="json").json()["id"]
    # pending → validating → queued only through moderation (POST …/start), the rest by PATCH
    assert auth_client.post(f"/api/v1/jobs/{job_id}/start").json()["status"] == "queued"
    walk = ["processing", "generating_images", "generating_video", "generating_audio", "composing", "completed"]
    for status in walk:
        response = auth_client.patch(f"/api/v1/jobs/{job_id}/status", {"status": status}, format="json")
        assert response.status_code == 200 and response.json()["status"] == status, response.content
    assert [e.data["status"] for e in JobEvent.objects.filter(job_id=job_id, type="status").order_by("seq")] == [
        "pending", "validating", "queued", *walk]


@pytest.mark.django_db(transaction=True)
def test_a_client_job_is_never_enqueued(auth_client, user):
    from pipeline.queue import shared_broker

    before = shared_broker().queue_size()
    created = auth_client.post("/api/v1/jobs", {"prompt": "a chair", "engine": "client"}, format="json").json()
    assert created["status"] == "queued" and Job.objects.get(pk=created["id"]).moderation["flagged"] is False
    assert shared_broker().queue_size() == before


@pytest.mark.django_db
def test_server_jobs_cannot_be_completed_or_advanced_by_the_client(auth_client, funded_user):
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot"}, format="json").json()["id"]
    assert auth_client.get(f"/api/v1/jobs/{job_id}/valid-transitions").json()["valid_transitions"] == ["cancelled"]
    for call in (
        lambda: auth_client.post(f"/api/v1/jobs/{job_id}/complete?success=true"),
        lambda: auth_client.post(f"/api/v1/jobs/{job_id}/complete?success=false"),
        lambda: auth_client.patch(f"/api/v1/jobs/{job_id}", {"status": "running"}, format="json"),
        lambda: auth_client.patch(f"/api/v1/jobs/{job_id}/status", {"status": "composing"}, format="json"),
    ):
        response = call()
        assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_transition"
        assert "only cancel" in response.json()["error"]["message"]
    assert Job.objects.get(pk=job_id).status == "queued"
    assert auth_client.post(f"/api/v1/jobs/{job_id}/cancel").json()["status"] == "cancelled"


# --- 3. engines declare price, limit and what to moderate ----------------------------------


@pytest.mark.django_db
def test_every_engine_declares_the_contract():
    for engine in engines_all():
        assert isinstance(engine.price_credits, int) and engine.price_credits >= 0, engine
        assert isinstance(engine.time_limit_seconds, int) and engine.time_limit_seconds > 0, engine
        assert isinstance(engine.moderated_params, tuple), engine
        assert isinstance(engine.moderates_input_images, bool) and isinstance(engine.moderates_output_images, bool)
        assert engine.input_asset_ids({}) == []
    local = engine_get(kind="text_to_3d", name="local")
    owner = JobOwner.for_user(None, client_ip=VISITOR_IP)
    assert local.validate_params({"prompt": "a pot"}, owner=owner) == {"prompt": "a pot", "output_format": "glb"}


def test_billing_quotes_the_prices_the_engines_declare():
    from billing.services import price_quote

    for kind, credits in engine_prices().items():
        assert price_of(kind) == credits == price_quote(item=kind, quantity=1)
    assert engine_prices()["text_to_3d"] == engine_get(kind="text_to_3d", name="runpod").price_credits


def test_engines_of_one_kind_must_agree_on_the_price(settings):
    from pipeline.engines import _REGISTRY

    class Dearer(type(engine_get(kind="text_to_3d", name="local"))):
        name = "dearer_test"
        price_credits = 7

    register(Dearer())
    try:
        with pytest.raises(ValueError, match="different prices"):
            engine_prices()
    finally:
        del _REGISTRY[("text_to_3d", "dearer_test")]


@pytest.mark.django_db
def test_a_job_costs_its_engines_price(auth_client, funded_user, settings):
    settings.CREDIT_PRICES = {**settings.CREDIT_PRICES, "text_to_3d": 2}
    body = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot"}, format="json").json()
    assert body["cost_credits"] == 2


# --- 4. per-kind time limits ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_task_timeout_follows_the_kinds_time_limit(funded_user, settings):
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    from pipeline.queue import shared_broker

    settings.PIPELINE_TASK_GRACE_SECONDS = 15
    job = services.job_create(owner=JobOwner.for_user(funded_user), kind="scad_render", engine="long_test",
                              params={"scad": "cube(1);"})
    broker = shared_broker()
    if settings.Q_CLUSTER.get("redis"):
        raw = broker.connection.lrange(broker.list_key, 0, -1)
    else:
        raw = list(OrmQ.objects.values_list("payload", flat=True))
    task = next(t for t in map(SignedPackage.loads, raw) if tuple(t["args"]) == (str(job.pk),))
    assert task["timeout"] == 30 + 15


def test_retry_shorter_than_a_job_task_is_a_system_check_error(settings):
    from pipeline.apps import check_task_retry_outlasts_jobs

    assert check_task_retry_outlasts_jobs() == []
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "retry": 300}
    errors = check_task_retry_outlasts_jobs()
    assert errors and all(isinstance(e, checks.Error) and e.id == "pipeline.E001" for e in errors)


@pytest.mark.django_db
def test_reaper_fails_a_run_past_its_deadline_as_timeout_instead_of_retrying(funded_user, settings):
    owner = JobOwner.for_user(funded_user)
    late = services.job_create(owner=owner, prompt="a bonsai pot")
    lost = services.job_create(owner=owner, prompt="a bonsai pot")
    for job in (late, lost):
        claimed = services.job_claim(job_id=job.pk, lease_token=uuid.uuid4())
        limit = settings.PIPELINE_TIME_LIMITS["text_to_3d"]
        assert claimed.deadline_at - claimed.started_at == pytest.approx(timedelta(seconds=limit), abs=timedelta(seconds=2))
    past = timezone.now() - timedelta(seconds=1)
    Job.objects.filter(pk__in=[late.pk, lost.pk]).update(lease_expires_at=past)
    Job.objects.filter(pk=late.pk).update(deadline_at=past)
    assert services.job_reap_expired() == {"retried": [str(lost.pk)], "failed": [str(late.pk)]}
    late.refresh_from_db()
    assert late.error_type == "timeout" and late.credits_state == "released"


# --- 5. anonymous visitors -----------------------------------------------------------------


def _visitor_job(**kwargs) -> Job:
    return services.job_create(owner=JobOwner(user=None, client_ip=VISITOR_IP), prompt="a bonsai pot", **kwargs)


@pytest.mark.django_db
def test_a_visitor_job_is_charged_to_the_address_and_read_only_with_its_token(user):
    job = _visitor_job()
    token = job.visitor_token
    stored = Job.objects.get(pk=job.pk)
    assert stored.owner is None and stored.visitor_ip == VISITOR_IP
    assert stored.visitor_token_hash == visitor_token_hash(token) and token not in stored.visitor_token_hash
    assert stored.credits_state == "held" and CreditAccount.objects.get(client_ip=VISITOR_IP).balance == 2

    assert selectors.job_get_for_visitor(job_id=job.pk, token=token).pk == job.pk
    other = _visitor_job()
    for job_id, wrong in [(job.pk, "guess"), (job.pk, ""), (job.pk, other.visitor_token), (other.pk, token)]:
        with pytest.raises(Http404):
            selectors.job_get_for_visitor(job_id=job_id, token=wrong)
    mine = services.job_create(owner=JobOwner.for_user(user), kind="scad_render", params={"scad": "cube(1);"})
    with pytest.raises(Http404):
        selectors.job_get_for_visitor(job_id=mine.pk, token=token)  # a user's job is never a visitor's
    assert list(selectors.job_list(user=user)) == [mine]
    assert bearer_client(user).get(f"/api/v1/jobs/{job.pk}").status_code == 404


@pytest.mark.django_db
def test_a_visitor_runs_out_of_free_credits_with_a_402_and_no_job():
    for _ in range(3):
        _visitor_job()
    with pytest.raises(PaymentRequired):
        _visitor_job()
    assert Job.objects.count() == 3


@pytest.mark.django_db
def test_a_visitor_job_outputs_are_readable_with_its_token_only(tmp_path):
    job = _visitor_job()
    other = _visitor_job()
    path = tmp_path / "out.stl"
    path.write_bytes(b"solid x\nendsolid x\n")
    asset = services.asset_output_store(job=job, path=path, asset_type="stl", primary=True)
    assert asset.owner_id is None
    assert list(selectors.asset_list_for_visitor(job_id=job.pk, token=job.visitor_token)) == [asset]
    assert selectors.asset_get_for_visitor(asset_id=asset.pk, job_id=job.pk, token=job.visitor_token) == asset
    with pytest.raises(Http404):
        selectors.asset_list_for_visitor(job_id=job.pk, token=other.visitor_token)
    with pytest.raises(Http404):
        selectors.asset_get_for_visitor(asset_id=asset.pk, job_id=other.pk, token=other.visitor_token)


@pytest.mark.django_db
def test_a_job_has_exactly_one_kind_of_owner(user):
    base = {"kind": "scad_render", "engine": "local"}
    for fields in ({"owner": user, "visitor_ip": VISITOR_IP, "visitor_token_hash": "a" * 64},
                   {"owner": None, "visitor_ip": None, "visitor_token_hash": ""},
                   {"owner": None, "visitor_ip": VISITOR_IP, "visitor_token_hash": ""}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Job.objects.create(**base, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Asset.objects.create(owner=None, asset_type="png", uri="s3://bucket/x.png")


# --- 6. job inputs -------------------------------------------------------------------------


def _image(owner) -> Asset:
    return Asset.objects.create(owner=owner, asset_type="png", role="selfie", uri="s3://bucket/selfie.png")


def _inputs_job(client, *asset_ids, start=True):
    return client.post("/api/v1/jobs", {"kind": "scad_render", "engine": "inputs_test", "start": start,
                                        "params": {"scad": "cube(1);", "images": [str(i) for i in asset_ids]}},
                       format="json")


@pytest.mark.django_db
def test_inputs_are_resolved_through_the_owners_gate_and_recorded(auth_client, funded_user, other_user, settings):
    settings.CREDIT_PRICES = {**settings.CREDIT_PRICES, "scad_render": 1}
    mine, theirs = _image(funded_user), _image(other_user)
    spendable = credits_spendable(user=funded_user, client_ip=TEST_CLIENT_IP)
    refused = _inputs_job(auth_client, mine.pk, theirs.pk)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    assert str(theirs.pk) in refused.json()["error"]["message"]
    assert Job.objects.count() == 0 and JobEvent.objects.count() == 0 and JobInput.objects.count() == 0
    assert credits_spendable(user=funded_user, client_ip=TEST_CLIENT_IP) == spendable
    created = _inputs_job(auth_client, mine.pk)
    assert created.status_code == 201, created.content
    assert [(i.asset_id, i.role) for i in JobInput.objects.filter(job_id=created.json()["id"])] == [(mine.pk, "selfie")]
    visitor = JobOwner(user=None, client_ip=VISITOR_IP)
    with pytest.raises(Exception) as refused_visitor:
        services.job_create(owner=visitor, kind="scad_render", engine="inputs_test",
                            params={"scad": "cube(1);", "images": [str(mine.pk)]})
    assert getattr(refused_visitor.value, "status_code", None) == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["deleted", "given_away"])
def test_an_input_gone_when_the_run_starts_fails_the_job_and_releases(auth_client, funded_user, other_user, settings, change):
    settings.CREDIT_PRICES = {**settings.CREDIT_PRICES, "scad_render": 1}
    selfie = _image(funded_user)
    selfie_id = selfie.pk
    spendable = credits_spendable(user=funded_user, client_ip=TEST_CLIENT_IP)
    job_id = _inputs_job(auth_client, selfie.pk).json()["id"]
    assert credits_spendable(user=funded_user, client_ip=TEST_CLIENT_IP) == spendable - 1
    if change == "deleted":
        services.asset_delete(asset=selfie)
    else:
        Asset.objects.filter(pk=selfie.pk).update(owner=other_user)
    assert tasks.job_run(job_id) == "failed"
    job = Job.objects.get(pk=job_id)
    assert job.status == "failed" and job.error_type == "input_unavailable" and str(selfie_id) in job.error
    assert job.credits_state == "released"
    assert credits_spendable(user=funded_user, client_ip=TEST_CLIENT_IP) == spendable


# --- 7. moderation record, 9. credits_state ------------------------------------------------


@pytest.mark.django_db
def test_the_moderation_verdict_is_recorded_on_the_job(auth_client, funded_user, settings):
    settings.MODERATION_BACKEND = "local"
    clean = Job.objects.get(pk=auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot"}, format="json").json()["id"])
    assert clean.moderation["flagged"] is False
    refused = auth_client.post("/api/v1/jobs", {"prompt": "a pot shaped like a swastika"}, format="json").json()
    job = Job.objects.get(pk=refused["id"])
    assert job.status == "failed" and job.error_type == "moderation" and job.moderation["flagged"] is True
    event = JobEvent.objects.filter(job=job, type="status").order_by("-seq").first()
    assert event.data["categories"] == job.moderation["categories"] and "hate" in event.data["categories"]
    assert event.data["engine"] == job.moderation["engine"] == "local"


@pytest.mark.django_db
def test_credits_state_is_a_constrained_choice(user):
    job = services.job_create(owner=JobOwner.for_user(user), kind="scad_render", params={"scad": "cube(1);"})
    assert job.credits_state == Job.CreditsState.NONE
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.filter(pk=job.pk).update(credits_state="")
