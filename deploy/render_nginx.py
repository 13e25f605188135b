"""Render the nginx site of deploy/nginx/ for this installation (standard library + Django settings).

    DJANGO_ENV=production .venv/bin/python deploy/render_nginx.py \
        --server-name shop.example.com \
        --certificate /etc/letsencrypt/live/shop.example.com/fullchain.pem \
        --certificate-key /etc/letsencrypt/live/shop.example.com/privkey.pem \
        --gunicorn 127.0.0.1:8001 --daphne 127.0.0.1:8002 \
        --out-dir /etc/nginx/mozukai-hub

writes `mozukai-hub-http.conf` (upstreams), `mozukai-hub-app.conf` (the application part:
routes, headers, body limit, static files) and `mozukai-hub.conf` (the site: TLS, the
HTTP→HTTPS redirect, including the other two) into --out-dir. The body size limit and the static root come from the
Django settings (MAX_REQUEST_BYTES, STATIC_ROOT), so nginx and the app never disagree. Give
--gunicorn / --daphne once per process (other machines too). Link mozukai-hub.conf from
/etc/nginx/sites-enabled/ and run `nginx -t && systemctl reload nginx`.

The production-stack test renders the same two parts (`render_http`, `render_app`) and serves
them over plain HTTP on loopback.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
APP_TEMPLATE = HERE / "nginx" / "mozukai-hub-app.conf.template"
HTTP_TEMPLATE = HERE / "nginx" / "mozukai-hub-http.conf.template"
SITE_TEMPLATE = HERE / "nginx" / "mozukai-hub.conf.template"
PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")


def render(template: str, values: dict[str, object]) -> str:
    """Fill every placeholder (NAME in double braces); a placeholder without a value, or a value without a placeholder, is an error."""
    used = set(PLACEHOLDER.findall(template))
    missing, unused = used - set(values), set(values) - used
    if missing or unused:
        raise ValueError(f"template placeholders missing {sorted(missing)}, unknown {sorted(unused)}")
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


def render_app(*, static_root: str | os.PathLike, max_request_bytes: int) -> str:
    return render(APP_TEMPLATE.read_text(), {"STATIC_ROOT": str(static_root).rstrip("/"),
                                             "MAX_REQUEST_BYTES": int(max_request_bytes)})


def upstream_lines(addresses: list[str]) -> str:
    return "\n".join(f"    server {address};" for address in addresses)


def render_http(*, gunicorn: list[str], daphne: list[str]) -> str:
    return render(HTTP_TEMPLATE.read_text(), {"GUNICORN_SERVERS": upstream_lines(gunicorn),
                                              "DAPHNE_SERVERS": upstream_lines(daphne)})


def render_site(*, server_name: str, certificate: str, certificate_key: str, http_conf: str | os.PathLike,
                app_conf: str | os.PathLike) -> str:
    return render(SITE_TEMPLATE.read_text(), {
        "SERVER_NAME": server_name, "TLS_CERTIFICATE": certificate, "TLS_CERTIFICATE_KEY": certificate_key,
        "HTTP_CONF": str(http_conf), "APP_CONF": str(app_conf),
    })


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-name", required=True)
    parser.add_argument("--certificate", required=True)
    parser.add_argument("--certificate-key", required=True)
    parser.add_argument("--gunicorn", action="append", required=True, help="host:port of a gunicorn (repeat)")
    parser.add_argument("--daphne", action="append", required=True, help="host:port of a daphne (repeat)")
    parser.add_argument("--out-dir", required=True, type=Path)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mozukai_hub.settings")
    from django.conf import settings

    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    http_conf, app_conf, site_conf = out / "mozukai-hub-http.conf", out / "mozukai-hub-app.conf", out / "mozukai-hub.conf"
    http_conf.write_text(render_http(gunicorn=args.gunicorn, daphne=args.daphne))
    app_conf.write_text(render_app(static_root=settings.STATIC_ROOT, max_request_bytes=settings.MAX_REQUEST_BYTES))
    site_conf.write_text(render_site(server_name=args.server_name, certificate=args.certificate,
                                     certificate_key=args.certificate_key, http_conf=http_conf.resolve(),
                                     app_conf=app_conf.resolve()))
    print(f"wrote {http_conf}, {app_conf} and {site_conf}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
