"""The production topology of README "Production", started locally for the tests and the load bench.

    with production_stack() as stack:
        httpx.get(f"{stack.url}/api/v1/health")

Everything on loopback ports, each program in a process group of its own (stopped, group and
all, whatever happens): Debian's nginx (unprivileged, with the site rendered from deploy/nginx/
by deploy/render_nginx.py, a plain-HTTP server in place of the TLS one), gunicorn
(`mozukai_hub.wsgi`, 2 sync workers), daphne (`mozukai_hub.asgi`), two `manage.py qcluster`
workers, a redis-server of its own (so a fault test can restart it), an S3 server (moto,
path-style, presigned URLs) and the fake Stripe server of `fake_stripe.py`. PostgreSQL is the
suite's server (`DATABASE_URL`), in a database created and migrated for the stack and dropped
afterwards.

Settings: `DJANGO_ENV=production` (so the dev payment mode is off and the Stripe secrets are
required), `TRUSTED_PROXY_COUNT=1` (nginx appends the client's address to X-Forwarded-For),
`SECURE_SSL_REDIRECT=false` because the loopback proxy speaks plain HTTP (nginx passes
`X-Forwarded-Proto $scheme`, i.e. `http` here; behind the TLS site it is `https`), e-mail to the
console (there is no SMTP server here). Everything else as an operator sets it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .polling import wait_until
from .services import _redis_server, free_port

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
BUCKET = "mozukai-media-production-test"
STAFF_EMAIL = "staff@stack.local"
STAFF_PASSWORD = "Stack-Staff-Granite-42"


def _render_module():
    """deploy/render_nginx.py: the one renderer of the nginx site (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location("mozukai_render_nginx", ROOT / "deploy" / "render_nginx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nginx_conf(*, directory: Path, port: int, gunicorn: list[str], daphne: list[str], static_root: Path,
               max_request_bytes: int) -> Path:
    """Write an nginx.conf for an unprivileged nginx serving the site's http and app parts (the
    same templates as deploy/) over plain HTTP on 127.0.0.1:`port`; return its path."""
    render = _render_module()
    http_conf, app_conf = directory / "mozukai-hub-http.conf", directory / "mozukai-hub-app.conf"
    http_conf.write_text(render.render_http(gunicorn=gunicorn, daphne=daphne))
    app_conf.write_text(render.render_app(static_root=static_root, max_request_bytes=max_request_bytes))
    temp = {name: directory / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    conf = directory / "nginx.conf"
    # As root, nginx would run its worker as `nobody`, which cannot read this private directory.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(f"""
{user}
worker_processes 1;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {directory}/access.log;
    client_body_temp_path {temp['client_body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    include {http_conf};
    server {{
        listen 127.0.0.1:{port};
        server_name _;
        include {app_conf};
    }}
}}
""")
    return conf


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _stop_group(process: subprocess.Popen, timeout: float = 10) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; anything it forked and left in the group goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return


def _stop_groups(processes: list[subprocess.Popen], timeout: float = 10) -> None:
    """Stop several process groups at once: SIGTERM to all, a shared grace period, then SIGKILL."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever is left of the group, leader or forks
        process.wait(timeout=10)


def _database_url_for(base_url: str, name: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@dataclass
class Stack:
    url: str  # nginx, the only door the tests use
    ws_url: str
    database_url: str
    redis_port: int
    s3_endpoint: str
    stripe: object  # fake_stripe.FakeStripe
    env: dict[str, str]
    directory: Path
    static_root: Path
    postgres: Postgres | None = None  # the stack's own cluster (own_postgres=True), else the suite's
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _logs: dict[str, Path] = field(default_factory=dict)

    # --- processes ------------------------------------------------------------------------

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = self.directory / f"{name}.log"
        self._logs[name] = log
        with log.open("ab") as out:
            process = subprocess.Popen(argv, cwd=ROOT, env={**self.env, **(env or {})}, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        return process

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            _stop_group(process)

    def kill(self, name: str) -> None:
        """SIGKILL a process and everything it forked, as the kernel's OOM killer or a power cut would."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def logs(self, limit: int = 3000) -> str:
        parts = []
        for name, path in self._logs.items():
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- {name} ---\n{text[-limit:]}")
        return "\n".join(parts)

    def start_worker(self, name: str) -> subprocess.Popen:
        return self.spawn(name, [sys.executable, "manage.py", "qcluster"])

    def start_redis(self) -> None:
        self.spawn("redis", [_redis_server() or "redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--protected-mode", "yes"])
        wait_until(lambda: _redis_ready(self.redis_port), 20, interval=0.05, message="redis-server did not start")

    def start_s3(self) -> None:
        """The S3 server (moto, in memory) on its port, with the media bucket (empty: a restart loses every object)."""
        import boto3

        port = int(self.s3_endpoint.rsplit(":", 1)[1])
        self.spawn("s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)])
        wait_until(lambda: _port_open(port), 30, interval=0.1, message=lambda: self.logs())
        boto3.client("s3", endpoint_url=self.s3_endpoint, region_name="us-east-1", aws_access_key_id="test",
                     aws_secret_access_key="test").create_bucket(Bucket=BUCKET)

    def restart_redis(self, down_seconds: float = 1.0) -> None:
        """Stop Redis (its data goes with it: nothing is persisted), wait, start it on the same port."""
        self.stop("redis")
        time.sleep(down_seconds)
        self.start_redis()

    # --- convenience -------------------------------------------------------------------------

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        """Read the stack's database directly (what the API does not show: the client address a row
        was made for, an attempt count)."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()


class Postgres:
    """A PostgreSQL cluster of the stack's own (for the fault tests, which restart it), on a free
    port, durability off; `stop` and `start` keep its data."""

    def __init__(self, directory: Path):
        import pwd

        from .services import _pg_bindir

        self.bindir = _pg_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL is not installed: sudo apt-get install -y postgresql")
        self.root = directory / "postgres"
        self.root.mkdir()
        (self.root / "sockets").mkdir()
        self.data, self.port = self.root / "data", free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            pw = pwd.getpwnam("postgres")
            for path in (directory, self.root, self.root / "sockets"):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, *args: str) -> None:
        subprocess.run([*self.as_user, f"{self.bindir}/{args[0]}", *args[1:]], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)

    def init(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root / 'sockets'} -c listen_addresses=127.0.0.1 -c max_connections=200 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-o", options, "-w", "-t", "60",
                 "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast`: every session is disconnected at once (their transactions roll back), as in a restart."""
        if (self.data / "postmaster.pid").exists():
            self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, down_seconds: float = 1.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


def _redis_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _prepare(stack: Stack) -> None:
    """Migrate the new database, add the staff account and a shop category, in one Django start-up."""
    result = subprocess.run([sys.executable, "-m", "mozukai_hub.testing.production", "prepare"], cwd=ROOT,
                            env=stack.env, capture_output=True, text=True, timeout=240)
    if result.returncode != 0:
        raise RuntimeError(f"preparing the stack's database failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")


@contextlib.contextmanager
def production_stack(*, extra_env: dict[str, str] | None = None, workers: int = 2, own_postgres: bool = False,
                     startup_timeout: float = 60) -> Iterator[Stack]:
    """Start the whole topology; yield a `Stack`; stop every process and drop the database.

    `own_postgres`: a PostgreSQL cluster of the stack's own (`stack.postgres`, which a test may
    restart) instead of a database on the suite's server."""
    import psycopg

    from .fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe

    if not os.path.exists(NGINX):
        raise RuntimeError("nginx is not installed: sudo apt-get install -y nginx")
    directory = Path(tempfile.mkdtemp(prefix="mozukai-stack-"))
    postgres = None
    if own_postgres:
        postgres = Postgres(directory)
        try:
            postgres.init()
        except BaseException:
            postgres.stop("immediate")
            shutil.rmtree(directory, ignore_errors=True)
            raise
    base_database_url = postgres.url if postgres else os.environ.get("DATABASE_URL", "")
    if not base_database_url.startswith(("postgres://", "postgresql://")):
        shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError("The production stack needs the suite's PostgreSQL: run it under mozukai_hub.testing.services.")
    name = f"mozukai_stack_{secrets.token_hex(4)}"
    ports = {k: free_port() for k in ("nginx", "gunicorn", "daphne", "redis", "s3")}
    database_url = _database_url_for(base_database_url, name)
    created = False
    with contextlib.ExitStack() as cleanup:
        stripe = cleanup.enter_context(FakeStripe(SECRET_KEY))
        url = f"http://127.0.0.1:{ports['nginx']}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))},
            "DJANGO_SETTINGS_MODULE": "mozukai_hub.settings",
            "DJANGO_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": url,
            "ALLOWED_ORIGINS": "",
            "TRUSTED_PROXY_COUNT": "1",
            "SECURE_SSL_REDIRECT": "false",
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": "pk_test_mozukai_stack",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": stripe.base_url,
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{ports['s3']}",
            "AWS_S3_REGION_NAME": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "MEDIA_ROOT": str(directory / "media"),
            "STATIC_ROOT": str(directory / "static"),
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "Q_WORKERS": "1",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "STACK_STAFF_EMAIL": STAFF_EMAIL,
            "STACK_STAFF_PASSWORD": STAFF_PASSWORD,
            **(extra_env or {}),
        }
        stack = Stack(url=url, ws_url=url.replace("http://", "ws://"), database_url=database_url,
                      redis_port=ports["redis"], s3_endpoint=f"http://127.0.0.1:{ports['s3']}", stripe=stripe,
                      env=env, directory=directory, static_root=directory / "static", postgres=postgres)

        def stop_all():
            # A qcluster takes 10 s or more to stop cleanly (its sentinel's guard loop); nothing is
            # in flight at the end of a test, so its whole group is killed at once.
            for process_name in [n for n in stack.processes if n.startswith("worker")]:
                stack.kill(process_name)
            _stop_groups(list(stack.processes.values()))
            stack.processes.clear()

        cleanup.callback(shutil.rmtree, directory, True)
        if postgres:
            cleanup.callback(postgres.stop, "immediate")
        try:
            with psycopg.connect(base_database_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
                created = True
            cleanup.callback(_drop_database, base_database_url, name)
            cleanup.callback(stop_all)  # runs before the database is dropped
            stack.start_redis()
            stack.start_s3()
            # collectstatic under the production storage (hashed names and a manifest, compressed
            # copies), as the deploy runs it, while the database is migrated.
            collect = subprocess.Popen([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
                                       cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       start_new_session=True)
            try:
                _prepare(stack)
                collected = collect.communicate(timeout=240)[0]
            finally:
                _stop_groups([collect])
            if collect.returncode != 0:
                raise RuntimeError(f"collectstatic failed under production settings:\n{collected[-4000:]}")

            from django.conf import settings

            conf = nginx_conf(directory=directory, port=ports["nginx"], gunicorn=[f"127.0.0.1:{ports['gunicorn']}"],
                              daphne=[f"127.0.0.1:{ports['daphne']}"], static_root=stack.static_root,
                              max_request_bytes=settings.MAX_REQUEST_BYTES)
            stack.spawn("gunicorn", [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                                     "-b", f"127.0.0.1:{ports['gunicorn']}", "-w", "2", "mozukai_hub.wsgi"])
            stack.spawn("daphne", [sys.executable, "-m", "daphne", "--access-log", "/dev/null", "-b", "127.0.0.1",
                                   "-p", str(ports["daphne"]), "mozukai_hub.asgi:application"])
            for index in range(1, workers + 1):
                stack.start_worker(f"worker{index}")
            stack.spawn("nginx", [NGINX, "-p", str(directory), "-c", str(conf), "-g",
                                  f"daemon off; pid {directory}/nginx.pid; error_log stderr;"])
            for key in ("gunicorn", "daphne", "nginx"):
                wait_until(lambda key=key: stack.processes[key].poll() is not None or _port_open(ports[key]),
                           startup_timeout, interval=0.1, message=lambda: stack.logs())
                assert stack.processes[key].poll() is None, f"{key} exited:\n{stack.logs()}"
            yield stack
        except BaseException:
            if created:
                sys.stderr.write(stack.logs())
            raise


def _drop_database(base_database_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base_database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _prepare_main() -> int:
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import User
    from catalog.models import Category

    call_command("migrate", "--noinput", verbosity=0)
    User.objects.create_superuser(os.environ["STACK_STAFF_EMAIL"], os.environ["STACK_STAFF_PASSWORD"], username="stackstaff")
    Category.objects.get_or_create(slug="outdoor-bonsai", defaults={"name": "Outdoor Bonsai"})
    return 0


if __name__ == "__main__":
    if sys.argv[1:] != ["prepare"]:
        sys.exit("usage: python -m mozukai_hub.testing.production prepare")
    sys.exit(_prepare_main())
