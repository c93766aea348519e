"""A real django-helpdesk, installed, configured and driven the way a technician uses it.

:func:`ensure_installed` makes ``.live/django-helpdesk/``, a venv of its own with the pinned
versions of ``requirements-django-helpdesk.txt`` (django-helpdesk's Django must not meet
notifier's packages). :class:`DjangoHelpdesk` writes a Django site in a temporary directory
(SQLite, Django's SMTP backend to the given loopback port), migrates it (helpdesk's migrations
load its stock e-mail templates), creates a technician and a queue, and serves it with
``manage.py runserver`` on a free loopback port. Tickets are then opened and updated through its
web forms, as a logged-in technician's browser would post them, so every mail is the one the
product sends for that click (``helpdesk/update_ticket.py``).

Facts found while writing this (django-helpdesk 2.6.1), each one needed here:

* ``HELPDESK_TEAMS_MODE_ENABLED = False``, or ``migrate`` needs ``pinax_teams``;
* ``HELPDESK_KB_ENABLED = False`` breaks every command (``NameError: kb`` in helpdesk/urls.py);
* a resolution mails the submitter only when the follow-up is public; ``PATCH /api/tickets/N/``
  mails nobody;
* mail goes out with ``fail_silently=True``: a wrong port is only a mail that never comes;
* the queue's own address and the technician's are never mailed; the queue's *new ticket CC*
  and *updated ticket CC* get a copy of every mail (``resolved_cc`` names the ``Submitter:``).
"""

from __future__ import annotations

import html.parser
import http.cookiejar
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.live.servers import HelpdeskError, free_port, loopback_opener, serve, stop

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".live" / "django-helpdesk"
REQUIREMENTS = Path(__file__).with_name("requirements-django-helpdesk.txt")
PYTHON = VENV / "bin" / "python"

TECHNICIAN, TECHNICIAN_PASSWORD = "tech", "Tech-Pa55word!"
TECHNICIAN_ADDRESS = "tech@example.org"
QUEUE_SLUG = "support"
STATUS = {"open": "1", "reopened": "2", "resolved": "3", "closed": "4"}


def ensure_installed() -> Path:
    """The venv's python, installing django-helpdesk first when it is missing or incomplete."""
    if PYTHON.exists() and _imports_helpdesk():
        return PYTHON
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    install = subprocess.run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if install.returncode != 0 or not _imports_helpdesk():
        raise HelpdeskError(
            f"cannot install django-helpdesk into {VENV}:\n{install.stdout}\n{install.stderr}"
        )
    print(f"django-helpdesk installed in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return PYTHON


def _imports_helpdesk() -> bool:
    check = [str(PYTHON), "-c", "import django, helpdesk, rest_framework"]
    return subprocess.run(check, capture_output=True, timeout=60).returncode == 0


class DjangoHelpdesk:
    """One django-helpdesk site: ``start()``, open and update tickets, ``stop()``."""

    def __init__(
        self, directory: Path, *, smtp_port: int, queue_address: str, copies_to: str
    ) -> None:
        self.directory = directory
        self.smtp_port = smtp_port
        self.queue_address = queue_address
        self.copies_to = copies_to  # the queue's new and updated ticket CC: the watched mailbox
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: subprocess.Popen[bytes] | None = None
        self._jar = http.cookiejar.CookieJar()
        self._http = loopback_opener(urllib.request.HTTPCookieProcessor(self._jar))

    # -- life ----------------------------------------------------------------------------------

    def start(self) -> DjangoHelpdesk:
        python = ensure_installed()
        self._write_site()
        self._manage(python, "migrate", "--noinput")
        self._manage(python, "shell", "-c", self._setup_script())
        self._server = serve(
            [str(python), "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            log=self.directory / "runserver.log",
            url=self.url + "/login/",
            cwd=self.directory,
        )
        self._log_in()
        return self

    def stop(self) -> None:
        stop(self._server)

    # -- what a technician does ---------------------------------------------------------------

    def open_ticket(self, title: str, body: str, submitter: str) -> int:
        """Open a ticket for ``submitter`` as the technician does on /tickets/submit/."""
        page = self._get("/tickets/submit/")
        fields = form_fields(page, lambda a: "logout" not in a.get("action", ""))
        fields.update(title=title, body=body, submitter_email=submitter, priority="3")
        landed = self._post("/tickets/submit/", fields)
        found = re.search(r"/tickets/(\d+)/", landed)
        if found is None:
            raise HelpdeskError(f"the ticket was not created (ended at {landed})")
        return int(found.group(1))

    def update(self, ticket: int, comment: str, *, status: str | None = None) -> None:
        """Post a public follow-up, changing the status when given (the "Update" form)."""
        page = self._get(f"/tickets/{ticket}/")
        fields = form_fields(page, lambda a: a.get("id") == "ticket-respond-form")
        fields.update(comment=comment, public="1")
        if status is not None:
            fields["new_status"] = STATUS[status]
        self._post(f"/tickets/{ticket}/update/", fields)

    def resolve(self, ticket: int, resolution: str) -> None:
        self.update(ticket, resolution, status="resolved")

    def send_webhooks_to(self, *urls: str) -> None:
        """Where the site POSTs its new-ticket and follow-up webhooks from now on (its
        ``HELPDESK_GET_*_WEBHOOK_URLS`` settings read this list at each event)."""
        (self.directory / "webhook-urls.txt").write_text("\n".join(urls))

    # -- the site ------------------------------------------------------------------------------

    def _write_site(self) -> None:
        package = self.directory / "desk"  # not "site": that is a module of Python
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "settings.py").write_text(
            _SETTINGS.format(smtp_port=self.smtp_port, queue_address=self.queue_address)
        )
        (package / "urls.py").write_text(_URLS)
        (self.directory / "manage.py").write_text(_MANAGE)

    def _setup_script(self) -> str:
        return _SETUP.format(
            user=TECHNICIAN,
            address=TECHNICIAN_ADDRESS,
            password=TECHNICIAN_PASSWORD,
            slug=QUEUE_SLUG,
            queue_address=self.queue_address,
            copies_to=self.copies_to,
            port=self.port,
        )

    def _manage(self, python: Path, *args: str) -> None:
        done = subprocess.run(
            [str(python), "manage.py", *args],
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise HelpdeskError(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")

    def _log_in(self) -> None:
        fields = form_fields(self._get("/login/"), lambda a: True)
        fields.update(username=TECHNICIAN, password=TECHNICIAN_PASSWORD)
        self._post("/login/", fields)
        if not any(cookie.name == "sessionid" for cookie in self._jar):
            raise HelpdeskError("the technician could not log in")

    def _get(self, path: str) -> str:
        with self._http.open(self.url + path, timeout=30) as answer:
            return str(answer.read().decode("utf-8"))

    def _post(self, path: str, fields: dict[str, str]) -> str:
        request = urllib.request.Request(  # noqa: S310 - self.url is http://127.0.0.1:<port>
            self.url + path,
            data=urllib.parse.urlencode(fields).encode(),
            headers={"Referer": self.url + path},
        )
        with self._http.open(request, timeout=30) as answer:
            return str(answer.geturl())


# -- forms as a browser submits them -----------------------------------------------------------


FormChooser = Callable[[dict[str, str]], bool]  # a form's attributes -> is it the one?


def form_fields(page: str, choose: FormChooser) -> dict[str, str]:
    """The fields of the first ``<form method=post>`` that ``choose(attributes)`` accepts, with
    the values a browser would send untouched (the CSRF token, selected options, checked boxes)."""
    reader = _FormReader(choose)
    reader.feed(page)
    if not reader.found:
        raise HelpdeskError("no such form on the page")
    return dict(reader.fields)


class _FormReader(html.parser.HTMLParser):
    def __init__(self, choose: FormChooser) -> None:
        super().__init__(convert_charrefs=True)
        self.choose = choose
        self.found = self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form" and not self.found and a.get("method", "").lower() == "post":
            if self.choose(a):
                self.found = self.inside = True
            return
        if not self.inside:
            return
        kind = a.get("type", "text").lower()
        if tag == "input" and a.get("name") and kind not in ("submit", "button", "file", "reset"):
            if kind not in ("checkbox", "radio") or "checked" in a:
                self.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self._select, self._options = a.get("name"), []
        elif tag == "option" and self._select:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "select" and self._select:
            chosen = [value for value, selected in self._options if selected] or [
                value for value, _ in self._options[:1]
            ]
            if chosen:
                self.fields.append((self._select, chosen[0]))
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.fields.append((self._textarea, self._text))
            self._textarea = None
        elif tag == "form":
            self.inside = False


# -- the Django site ---------------------------------------------------------------------------

_SETTINGS = """\
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "live-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
    "django.contrib.sites", "django.contrib.humanize", "rest_framework", "helpdesk",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "desk.urls"
TEMPLATES = [{{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {{"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]}},
}}]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
MEDIA_ROOT = BASE_DIR / "media"
SITE_ID = 1
LOGIN_URL = "helpdesk:login"
LOGIN_REDIRECT_URL = "helpdesk:home"
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = {smtp_port}
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = SERVER_EMAIL = "{queue_address}"
HELPDESK_TEAMS_MODE_ENABLED = False
HELPDESK_KB_ENABLED = True


def _webhook_urls():
    # Read at each follow-up, so a test can point the site at a listener it starts later.
    listed = BASE_DIR / "webhook-urls.txt"
    return listed.read_text().split() if listed.exists() else []


HELPDESK_GET_FOLLOWUP_WEBHOOK_URLS = _webhook_urls
HELPDESK_GET_NEW_TICKET_WEBHOOK_URLS = _webhook_urls
"""

_URLS = """\
from django.contrib import admin
from django.urls import include, path
urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("helpdesk.urls", namespace="helpdesk")),
]
"""

_MANAGE = """\
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "desk.settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
"""

_SETUP = """
from django.contrib.auth import get_user_model
from django.contrib.sites.models import Site
from helpdesk.models import Queue
get_user_model().objects.create_superuser("{user}", "{address}", "{password}")
Queue.objects.create(
    title="Support", slug="{slug}", email_address="{queue_address}",
    new_ticket_cc="{copies_to}", updated_ticket_cc="{copies_to}",
)
Site.objects.update_or_create(id=1, defaults={{"domain": "127.0.0.1:{port}", "name": "IT"}})
"""
