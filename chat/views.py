"""The design chat's pages: your chats (`/c/`) and one chat (`/c/<chat_id>`), live over the chat socket."""

import json

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from pipeline.storage import download_url

from . import selectors, services
from .api.serializers import message_assets


@login_required
def chat_list_page(request):
    chats = selectors.chat_list(user=request.user).select_related("session")[:100]
    return render(request, "chat/chat_list.html", {"chats": chats})


@login_required
@require_POST
def chat_new_page(request):
    title = (request.POST.get("title") or "").strip()[:200]
    chat = services.chat_create_in_default_session(user=request.user, title=title or "New design")
    return redirect("chat-page", chat_id=chat.pk)


def _message_view(message, assets: dict) -> dict:
    links = []
    for item in (message.parts or {}).get("assets") or []:
        asset = assets.get(str(item.get("id")))
        if asset is not None:
            url, _ = download_url(asset=asset)
            links.append({"asset_type": asset.asset_type, "size": asset.size, "url": url})
    return {"message": message, "links": links, "glb": next((l["url"] for l in links if l["asset_type"] == "glb"), None),
            "requirements_json": json.dumps(message.parts.get("requirements")) if message.parts.get("requirements") else ""}


@login_required
def chat_page(request, chat_id):
    chat = selectors.chat_get_for_user(user=request.user, chat_id=chat_id)
    messages = list(selectors.message_list(user=request.user, chat_id=chat.pk))
    assets = message_assets(messages)
    running = selectors.chat_runs_unfinished(chat=chat).exists()
    return render(request, "chat/chat.html", {
        "chat": chat, "items": [_message_view(m, assets) for m in messages], "running": running,
    })
