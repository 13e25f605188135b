"""The film pages: the editor (own projects only), voice samples, and a person building a
three-scene film in Chromium and watching it play."""

import re
import threading
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from mozukai_hub.testing.fixtures import PASSWORD
from mozukai_hub.testing.images import png_bytes
from pipeline import tasks
from pipeline.models import Asset, Job
from pipeline.tests.conftest import grant
from studio import services
from studio.models import ProjectInput

pytestmark = pytest.mark.django_db
CHROMIUM = "/usr/bin/chromium"


def _film(owner, title="Harbour"):
    return services.film_project_create(owner=owner, title=title,
                                        scenes=[{"narration": "Hello.", "visual": "Hi", "duration_s": 2}])


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_editor_is_for_the_films_owner_only(user, other_user):
    film = _film(user)
    assert Client().get(f"/studio/films/{film.pk}/").status_code == 302  # to sign in
    assert _client(other_user).get(f"/studio/films/{film.pk}/").status_code == 404
    thumbnail = services.project_create(owner=user, platform="youtube", vibe="bold", headline="Not a film")
    assert _client(user).get(f"/studio/films/{thumbnail.pk}/").status_code == 404
    page = _client(user).get(f"/studio/films/{film.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    for element in ('id="film-editor"', 'id="scenes"', 'id="add-scene"', 'id="render"', 'id="timeline"',
                    'id="film-video"', 'id="film-track"', 'id="hear-voice"'):
        assert element in html
    # No inline script (CSP): every <script> without src is JSON data.
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag


def test_film_list_links_the_users_films_only(user, other_user):
    mine, theirs = _film(user, "Mine"), _film(other_user, "Theirs")
    html = _client(user).get("/studio/films/").content.decode()
    assert f"/studio/films/{mine.pk}/" in html and str(theirs.pk) not in html
    assert 'id="new-film"' in html


def test_voice_sample_is_a_wav_cached_and_rate_limited(user, settings):
    settings.FILM_VOICE_SAMPLES_PER_MINUTE = 2
    client = _client(user)
    first = client.get("/studio/films/voice-sample?voice=en-us&speed=160&pitch=40")
    assert first.status_code == 200 and first["Content-Type"] == "audio/wav"
    assert first.content[:4] == b"RIFF" and first.content[8:12] == b"WAVE" and len(first.content) > 20_000
    assert client.get("/studio/films/voice-sample?voice=en-us&speed=160&pitch=41").status_code == 200
    limited = client.get("/studio/films/voice-sample?voice=en-us&speed=160&pitch=42")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    again = client.get("/studio/films/voice-sample?voice=en-us&speed=160&pitch=40")  # cached: no render, no limit
    assert again.status_code == 200 and again.content == first.content
    assert client.get("/studio/films/voice-sample?voice=klingon").status_code == 400
    assert client.get("/studio/films/voice-sample?voice=en-us&speed=9000").status_code == 400
    assert Client().get("/studio/films/voice-sample?voice=en-us").status_code == 302


@pytest.fixture
def stack(daphne_server):
    """daphne on the test database, and a worker thread that runs each film job once it is
    queued (`pipeline.tasks.job_run`, what the django-q2 cluster calls)."""
    stop = threading.Event()

    def work():
        try:
            while not stop.wait(0.2):
                for job_id in Job.objects.filter(kind="film", status="queued").values_list("id", flat=True):
                    tasks.job_run(str(job_id))
        finally:
            connection.close()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        yield daphne_server()
    finally:
        stop.set()
        worker.join(timeout=30)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_person_builds_a_three_scene_film_and_watches_it_play(stack, user, tmp_path):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is needed at /usr/bin/chromium (apt-get install chromium).")
    grant(user, 20)
    scenes = [("The harbour wakes up.", "Dawn"), ("Boats head out to sea.", "Boats"), ("Gulls follow them.", "Gulls")]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{stack}/accounts/login/")
        page.fill("input[name=login]", user.email)
        page.fill("input[name=password]", PASSWORD)
        page.locator("main form button").first.click()
        page.wait_for_load_state()
        page.goto(f"{stack}/studio/films/")
        page.fill("#new-film-title", "Harbour morning")
        page.click("text=Create film")
        page.wait_for_url("**/studio/films/*/")
        page.click("#add-scene")
        page.click("#add-scene")
        items = page.locator("#scenes .scene")
        assert items.count() == 3
        for index, (narration, visual) in enumerate(scenes):
            item = items.nth(index)
            item.locator("[data-field=narration]").fill(narration)
            item.locator("[data-field=visual]").fill(visual)
            item.locator("[data-field=duration_s]").fill("1")
        # the first scene gets an uploaded image (type ref, with the project's id)
        image = tmp_path / "harbour.png"
        image.write_bytes(png_bytes((320, 180), (20, 160, 90)))
        items.nth(0).locator("[data-field=image]").set_input_files(str(image))
        page.wait_for_selector("#scenes .scene:first-child img.scene-image:not([hidden])")
        # reorder: move the last scene up and back down again
        items.nth(2).locator("[data-action=up]").click()
        assert page.locator("#scenes .scene").nth(1).locator("[data-field=narration]").input_value() == scenes[2][0]
        page.locator("#scenes .scene").nth(1).locator("[data-action=down]").click()
        page.click("#render")
        # the timeline follows the nine states live, over the websocket
        page.wait_for_selector("#timeline li[data-state=completed].done", timeout=60_000)
        done = page.locator("#timeline li.done").evaluate_all("items => items.map(i => i.dataset.state)")
        page.wait_for_function("() => document.getElementById('film-video').readyState >= 2", timeout=20_000)
        page.evaluate("() => { const v = document.getElementById('film-video'); v.muted = true; return v.play(); }")
        page.wait_for_function("() => document.getElementById('film-video').currentTime > 0", timeout=20_000)
        cues = page.evaluate("""() => new Promise((resolve) => {
            const track = document.getElementById('film-track');
            const read = () => resolve(Array.from(track.track.cues || []).map((c) => c.text));
            track.track.mode = 'hidden';
            if (track.readyState === 2) read(); else track.addEventListener('load', read);
        })""")
        downloads = page.locator("#downloads a").all_inner_texts()
        browser.close()
    assert done == ["pending", "validating", "queued", "processing", "generating_images", "generating_video",
                    "generating_audio", "composing", "completed"]
    assert [c.replace("\n", " ") for c in cues] == [narration for narration, _ in scenes]
    assert downloads == ["MP4 video", "WebVTT subtitles"]
    job = Job.objects.get(owner=user, kind="film")
    assert job.status == "completed" and [s["narration"] for s in job.params["scenes"]] == [n for n, _ in scenes]
    uploaded = Asset.objects.get(owner=user, role="ref")
    assert job.params["scenes"][0]["image_asset_id"] == str(uploaded.pk)
    assert ProjectInput.objects.filter(asset=uploaded, project_id=job.params["project_id"]).exists()
