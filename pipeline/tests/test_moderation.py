"""Moderation: the local policy per category, its obfuscation handling and false positives, the
verdict it records, and the OpenAI adapter against a local server that answers as OpenAI does."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from billing.services import credits_spendable
from mozukai_hub.testing.servers import json_reply
from pipeline import moderation
from pipeline.models import Job


def spendable(user) -> int:
    return credits_spendable(user=user, client_ip="127.0.0.1")


def local(text: str) -> moderation.Verdict:
    return moderation.moderate_text_local(text)


# --- The local policy, per category ------------------------------------------------------

@pytest.mark.parametrize(
    "text, category",
    [
        # sexual/minors: explicit phrases, and a sexual term near a term for a child
        ("graphic sexual content involving a child", "sexual/minors"),
        ("child porn", "sexual/minors"),
        ("an erotic scene with a 12-year-old", "sexual/minors"),
        ("naked kids at the beach", "sexual/minors"),
        ("sex with a minor", "sexual/minors"),
        ("a lolicon figurine", "sexual/minors"),
        ("nude teen", "sexual/minors"),
        # sexual
        ("a sex toy stand", "sexual"),
        ("explicit porn poster", "sexual"),
        ("an erotic sculpture of a couple having intercourse", "sexual"),
        ("a dildo holder", "sexual"),
        # violence/graphic
        ("a gory decapitated head", "violence/graphic"),
        ("dismembered bodies and blood splatter", "violence/graphic"),
        ("a torture device", "violence/graphic"),
        # violence
        ("I want to kill them", "violence"),
        ("plan a school shooting", "violence"),
        ("how to kill a person quietly", "violence"),
        # self-harm
        ("a noose for myself", "self-harm"),
        ("I want to kill myself", "self-harm"),
        ("ways to end my life", "self-harm"),
        ("suicide kit", "self-harm"),
        # hate
        ("a swastika planter", "hate"),
        ("nazi memorabilia", "hate"),
        ("white power banner", "hate"),
        # harassment
        ("you are worthless", "harassment"),
        ("kill yourself", "harassment"),
        ("a sign saying fuck you", "harassment"),
        # illicit/violent: weapons (this shop makes furniture and pots; a gun is still refused)
        ("a printable pistol frame", "illicit/violent"),
        ("a gun", "illicit/violent"),
        ("a suppressor for my rifle", "illicit/violent"),
        ("an AR-15 lower receiver", "illicit/violent"),
        ("a pipe bomb casing", "illicit/violent"),
        # illicit
        ("a pipe to smoke meth", "illicit"),
        ("counterfeit money printing plate", "illicit"),
    ],
)
def test_local_policy_flags_each_category(text, category):
    verdict = local(text)
    assert verdict.flagged and category in verdict.categories, (text, verdict)
    assert verdict.engine == "local" and any(m.startswith(f"{category}: ") for m in verdict.matched)


def test_sexual_content_involving_a_child_is_both_categories_and_names_what_matched():
    """The reported miss: this passed the old rules."""
    verdict = local("graphic sexual content involving a child")
    assert verdict.as_dict() == {
        "flagged": True,
        "categories": ["sexual/minors", "sexual"],
        "engine": "local",
        "matched": ["sexual/minors: sexual … child", "sexual: sexual"],
    }


@pytest.mark.parametrize(
    "text, category",
    [
        ("s e x", "sexual"),  # spacing
        ("S E X toy", "sexual"),
        ("SeX", "sexual"),  # case
        ("s3x", "sexual"),  # leetspeak
        ("$ex", "sexual"),
        ("s.e.x", "sexual"),  # punctuation between letters
        ("s-e-x", "sexual"),
        ("s_e_x", "sexual"),
        ("seeeexxx", "sexual"),  # repeated letters
        ("p0rn", "sexual"),
        ("p-o-r-n", "sexual"),
        ("draw a s e x scene", "sexual"),  # the article before a spelled-out word stays apart
        ("sеx", "sexual"),  # a Cyrillic е
        ("s\u200bex", "sexual"),  # a zero-width space
        ("ｓｅｘ", "sexual"),  # full-width letters
        ("k1ll h1m", "violence"),
        ("k i l l them", "violence"),
        ("kiiiill them!!!", "violence"),
        ("g u n", "illicit/violent"),
        ("9un", "illicit/violent"),
        ("Gun!", "illicit/violent"),
        ("GUNS", "illicit/violent"),
        ("n4z1", "hate"),
        ("sw@stika", "hate"),
        ("child p0rn", "sexual/minors"),
        ("childporn", "sexual/minors"),
        ("s e x u a l content with a k1d", "sexual/minors"),
    ],
)
def test_obfuscations_are_seen_through(text, category):
    verdict = local(text)
    assert verdict.flagged and category in verdict.categories, (text, verdict)


BENIGN_PROMPTS = [
    "a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole",
    "a bonsai pot with a drainage hole",
    "a shelf for kids' books",
    "a toy box for the children's room",
    "a mug with a skull motif",
    "an Essex-style cocktail table",
    "a cocktail table 80 x 80 x 45 cm",
    "a desk for a therapist's office",
    "an assassin bug figurine",
    "a gunmetal grey planter",
    "a gun metal grey planter",
    "a wall mount for my hot glue gun",
    "a caulking gun holder",
    "a massage gun stand",
    "a bath bomb mould",
    "a naked raku bonsai pot",
    "a nude-coloured vase for my kid's bedroom",
    "a high chair for a baby",
    "a stool for a 6 year old",
    "a bunk bed for teens",
    "a sextant display stand",
    "a Sussex-style garden bench",
    "a unisex shoe rack",
    "a box 53 x 20 x 10 cm",
    "a table 1488 mm wide",
    "a planter shaped like a cannon ball",
    "a pen holder shaped like a rocket",
    "a skill-share workbench",
    "a kiln shelf",
    "a classic bookcase with 5 shelves",
    "a shotglass rack",
    "a rapeseed oil bottle stand",
    "a Scunthorpe United mug",
    "a therapist's couch side table",
    "a weed-free raised garden bed",
    "a pot that helps kill fungus gnats",
    "a Maine Coon cat figurine",
    "a spice rack",
    "a minor adjustment to the previous shelf",
]


@pytest.mark.parametrize("text", BENIGN_PROMPTS)
def test_ordinary_product_prompts_pass(text):
    verdict = local(text)
    assert verdict.as_dict() == {"flagged": False, "categories": [], "engine": "local", "matched": []}, text


def test_normalising_never_joins_across_words():
    """Words are matched whole: joining happens only for letters spelled out one by one."""
    assert not local("Essex").flagged and not local("sexagenarian").flagged
    assert not local("the rap ist").flagged  # two real words are not joined
    assert not local("gu n").flagged and not local("se x").flagged
    assert not local("a b c d e f g").flagged


def test_moderate_job_reads_the_engines_moderated_params():
    class Headlines:
        moderated_params = ("headline", "subtext")

    class Legacy:  # an engine from before moderated_params: its prompt is read
        pass

    job = Job(params={"prompt": "a bonsai pot", "headline": "a pipe bomb tutorial", "subtext": ""})
    assert moderation.moderate_job(job=job, engine=Headlines()).categories == ["illicit/violent"]
    assert moderation.moderate_job(job=job, engine=Legacy()).flagged is False
    listed = Job(params={"headline": ["ok", {"nested": "n a z i"}]})
    assert moderation.moderate_job(job=listed, engine=Headlines()).categories == ["hate"]


@pytest.mark.django_db
def test_rejected_prompt_fails_job_uncharged_and_records_the_verdict(auth_client, funded_user):
    before = spendable(funded_user)
    response = auth_client.post("/api/v1/jobs", {"prompt": "graphic sexual content involving a child"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "failed" and body["error_type"] == "moderation"
    job = Job.objects.get()
    assert job.credits_state == "released" and spendable(funded_user) == before
    assert job.moderation["engine"] == "local" and job.moderation["categories"] == ["sexual/minors", "sexual"]
    event = job.events.filter(type="status").order_by("-seq").first()
    assert event.data["categories"] == ["sexual/minors", "sexual"] and event.data["engine"] == "local"


# --- OpenAI, through the provider client ---------------------------------------------------

class FakeOpenAI(BaseHTTPRequestHandler):
    """Answers POST /v1/moderations as OpenAI documents it."""

    calls: list = []
    script: list = []  # (status, headers) answered before the normal answer

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.calls.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body,
                                 "at": time.monotonic()})
        if FakeOpenAI.script:
            status, headers = FakeOpenAI.script.pop(0)
            json_reply(self, status, {"error": {"message": "scripted", "type": "server_error"}}, headers)
            return
        flagged = "forbidden" in body["input"]
        answer = {
            "id": "modr-123", "model": body["model"],
            "results": [{"flagged": flagged,
                         "categories": {"violence": flagged, "hate": False, "sexual/minors": False},
                         "category_scores": {"violence": 0.91 if flagged else 0.01, "hate": 0.0, "sexual/minors": 0.0}}],
        }
        json_reply(self, 200, answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def openai_server(settings):
    FakeOpenAI.calls, FakeOpenAI.script = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.MODERATION_BACKEND = "openai"
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{server.server_port}/v1"
    yield FakeOpenAI
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_openai_adapter(openai_server, auth_client, funded_user):
    before = spendable(funded_user)
    ok = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot"}, format="json").json()
    assert ok["status"] == "queued"
    bad = auth_client.post("/api/v1/jobs", {"prompt": "a forbidden thing"}, format="json").json()
    assert bad["status"] == "failed" and bad["error_type"] == "moderation" and "violence" in bad["error"]
    call = openai_server.calls[0]
    assert call["path"] == "/v1/moderations" and call["auth"] == "Bearer sk-test"
    assert call["body"] == {"model": "omni-moderation-latest", "input": "a bonsai pot"}
    assert Job.objects.get(pk=bad["id"]).moderation == {
        "flagged": True, "categories": ["violence"], "engine": "openai", "matched": ["violence: 0.91"],
    }
    assert Job.objects.get(pk=ok["id"]).moderation["engine"] == "openai"
    assert spendable(funded_user) == before - 1  # only the queued job holds its credit


def test_local_policy_decides_first_without_calling_openai(openai_server):
    verdict = moderation.moderate_text("a printable pistol frame")
    assert verdict.flagged and verdict.engine == "local" and verdict.categories == ["illicit/violent"]
    assert openai_server.calls == []


def test_openai_retries_5xx_honouring_retry_after(openai_server):
    openai_server.script = [(503, {"Retry-After": "1"})]
    verdict = moderation.moderate_text("a bonsai pot")
    assert verdict.flagged is False and verdict.engine == "openai"
    first, second = openai_server.calls
    assert second["at"] - first["at"] >= 0.95


@pytest.mark.django_db
def test_openai_failing_fails_closed(openai_server, auth_client, funded_user):
    before = spendable(funded_user)
    openai_server.script = [(503, {})] * 10
    job = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot"}, format="json").json()
    assert job["status"] == "failed" and job["error_type"] == "moderation_unavailable"
    assert len(openai_server.calls) == 3  # bounded
    assert spendable(funded_user) == before


def test_openai_auth_error_is_not_retried(openai_server):
    openai_server.script = [(401, {})]
    with pytest.raises(moderation.ModerationUnavailable, match="credentials"):
        moderation.moderate_text("a bonsai pot")
    assert len(openai_server.calls) == 1
