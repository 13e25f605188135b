"""The photo generator page (`/generate/`): usable without an account.

The page is served here; the work goes through the API (`POST /api/v1/generate`, then
`GET /api/v1/generate/{id}` with the visitor token until the job ends), driven by
static/studio/generate.js. It shows what the caller can spend (the address's free credits,
then a signed-in user's own) and the credit packs on sale.
"""

from django.conf import settings
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.csrf import ensure_csrf_cookie

from billing import selectors as billing
from mozukai_hub.client_ip import client_ip

from .styling import MAX_SIDE

CATEGORY_CHOICES = [
    ("portraits", "Portraits", "Warm tones, soft skin and a softly blurred background around the person."),
    ("editorial", "Editorial", "A bold magazine grade: deep teal shadows, warm highlights, strong contrast."),
    ("documentary", "Documentary", "Black and white with film grain and a print's tone curve."),
]


@ensure_csrf_cookie
def generate_page(request):
    summary = billing.credit_summary(user=request.user, client_ip=client_ip(request), recent=0)
    packs = [{**pack, "price": billing.money_display(pack["price_minor"], pack["currency"])} for pack in billing.credit_packs()]
    return render(request, "studio/generate.html", {
        "summary": summary, "packs": packs, "categories": CATEGORY_CHOICES,
        "price": settings.CREDIT_PRICES["photo_style"], "default_free_credits": settings.DEFAULT_FREE_CREDITS,
        "max_bytes": filesizeformat(settings.PIPELINE_UPLOAD_MAX_BYTES),
        "max_megapixels": settings.PIPELINE_UPLOAD_MAX_PIXELS // 1_000_000, "max_side": MAX_SIDE,
        "link_minutes": max(1, settings.PIPELINE_DOWNLOAD_URL_SECONDS // 60),
    })
