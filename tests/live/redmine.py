"""A real Redmine 5 (Debian's ``redmine``), an instance of its own in a temporary directory.

The packages come from Debian, installed by the test command when missing. Debian's Redmine
finds its instance at ``/usr/share/redmine/instances/$REDMINE_INSTANCE``; a relative path that
climbs to ``/`` puts it in the test's directory, with its own ``database.yml`` (SQLite),
``configuration.yml`` (SMTP to the given loopback port) and ``secret_key.txt``, and nothing under
``/etc`` or ``/var/lib`` changes. A Gemfile of ours wraps Debian's (whose database adapters are
looked up under ``/usr/share/redmine`` only) and adds ``sqlite3`` and ``webrick``; WEBrick serves
it (``rails server`` finds no server here). Requesters open and answer issues by mail through
Redmine's own mail handler (``rake redmine:email:read``); the technician updates them through
the REST API.

Facts found while writing this (Redmine 5.0.4 from Debian 12), each one needed here:

* mail goes out through ActiveJob: the ``:inline`` adapter sends it within the request;
* a user is not told of their own changes unless ``no_self_notified`` is off;
* *Resolved* is not a closed status; every mail carries ``List-Id`` and ``Auto-Submitted``;
* mail goes to each recipient separately, and a reply must quote a ``redmine.issue-`` or
  ``redmine.journal-`` Message-ID (Redmine never sets In-Reply-To).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.live.servers import HelpdeskError, free_port, loopback_opener, serve, stop

REDMINE = Path("/usr/share/redmine")
MAIL_FROM = "redmine@example.org"
PASSWORD = "Redmine-Pa55word"

_BOOT = """\
Dir.chdir('/usr/share/redmine')
require '/usr/share/redmine/config/application'
Rails.application.config.active_job.queue_adapter = :inline
Rails.application.initialize!
"""

_SERVER = """\
require 'webrick'
require_relative 'boot'
require 'rack'
require 'rack/handler/webrick'
Rack::Handler::WEBrick.run(Rails.application, Host: '127.0.0.1', Port: Integer(ENV['RM_PORT']))
"""

_SETUP = """\
require_relative 'boot'
require 'json'
Setting.host_name = "127.0.0.1:#{ENV['RM_PORT']}"
Setting.protocol = 'http'
Setting.rest_api_enabled = '1'
Setting.mail_from = '%(mail_from)s'
Setting.default_language = 'en'
reporter = Role.find_by!(name: 'Reporter')
reporter.add_permission!(:edit_own_issues)  # else a requester's "Status:" line is ignored
developer = Role.find_by!(name: 'Developer')
project = Project.new(name: 'IT', identifier: 'it', is_public: false)
project.enabled_module_names = ['issue_tracking']
project.trackers = Tracker.sorted.to_a
project.save!
def person(login, first, last, mail, notification)
  u = User.new(firstname: first, lastname: last, mail: mail, language: 'en')
  u.login = login
  u.password = u.password_confirmation = '%(password)s'
  u.mail_notification = notification
  u.status = User::STATUS_ACTIVE
  u.save!
  u.pref.no_self_notified = false
  u.pref.save!
  u
end
anna = person('anna', 'Anna', 'Schmidt', 'anna.schmidt@example.org', 'only_my_events')
tech = person('tech', 'Tom', 'Tech', 'tech@example.org', 'all')
Member.create!(project: project, principal: anna, role_ids: [reporter.id])
Member.create!(project: project, principal: tech, role_ids: [developer.id])
# notifier's own account for the API source: an administrator, as only one sees the authors'
# addresses (users/show.api.rsb shows mail to admins, or when the user does not hide it).
bot = person('notifier', 'IT', 'Notifier', 'notifier@example.org', 'none')
bot.admin = true
bot.save!
puts 'JSON=' + JSON.generate(
  key: tech.api_key,
  notifier_key: bot.api_key,
  statuses: IssueStatus.sorted.to_h { |s| [s.name, s.id] })
"""


class Redmine:
    """One Redmine: ``start()``, mail it, update issues through REST, ``stop()``."""

    def __init__(self, directory: Path, *, smtp_port: int) -> None:
        self.directory = directory
        self.instance = directory / "instance"
        self.smtp_port = smtp_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.statuses: dict[str, int] = {}
        self._key = ""
        self.notifier_key = ""
        self._server: subprocess.Popen[bytes] | None = None
        self._http = loopback_opener()

    def start(self) -> Redmine:
        if not (REDMINE / "config" / "application.rb").exists():
            raise HelpdeskError(
                "Redmine is missing: install redmine redmine-sqlite ruby-webrick "
                "(scripts/test.sh does)"
            )
        self._write_instance()
        self._run("rake", "db:migrate")
        self._run("rake", "redmine:load_default_data", REDMINE_LANG="en")
        out = self._run("ruby", str(self.directory / "setup.rb"))
        facts = json.loads(out.split("JSON=", 1)[1])
        self._key, self.statuses = facts["key"], facts["statuses"]
        self.notifier_key = str(facts["notifier_key"])  # an admin's API key, for [[api]]
        self._server = serve(
            ["ruby", str(self.directory / "server.rb")],
            log=self.directory / "webrick.log",
            url=self.url + "/login",
            cwd=REDMINE,
            env=self._env(),
        )
        return self

    def stop(self) -> None:
        stop(self._server)

    # -- what people do ------------------------------------------------------------------------

    def mail_in(self, raw: bytes, **options: str) -> None:
        """A mail to Redmine, through its own mail handler (``project=it``)."""
        arguments = [f"{key}={value}" for key, value in {"project": "it", **options}.items()]
        self._run("rake", "redmine:email:read", *arguments, stdin=raw)

    def update(self, issue: int, *, status: str, notes: str) -> None:
        """The technician changes the status with a note, through REST."""
        body = {"issue": {"status_id": self.statuses[status], "notes": notes}}
        self._rest("PUT", f"/issues/{issue}.json", body)

    def issue_of(self, subject: str) -> int:
        found = self._rest("GET", "/issues.json?status_id=*&sort=id:desc")
        for issue in found["issues"]:
            if issue["subject"] == subject:
                return int(issue["id"])
        raise HelpdeskError(f"no issue {subject!r}: the mail handler took nothing")

    def status(self, issue: int) -> str:
        return str(self._rest("GET", f"/issues/{issue}.json")["issue"]["status"]["name"])

    # -- plumbing ------------------------------------------------------------------------------

    def _write_instance(self) -> None:
        config = self.instance / "config"
        for folder in ("config", "db", "log", "tmp", "files", "public/plugin_assets"):
            (self.instance / folder).mkdir(parents=True)
        (config / "database.yml").write_text(
            "production:\n  adapter: sqlite3\n"
            f"  database: {self.instance}/db/redmine.sqlite3\n  timeout: 5000\n"
        )
        (config / "secret_key.txt").write_text(secrets.token_hex(32) + "\n")
        (config / "configuration.yml").write_text(
            "production:\n  email_delivery:\n    delivery_method: :smtp\n    smtp_settings:\n"
            f"      address: 127.0.0.1\n      port: {self.smtp_port}\n      domain: 127.0.0.1\n"
            "      enable_starttls_auto: false\n"
        )
        (self.directory / "Gemfile").write_text(
            "eval_gemfile '/usr/share/redmine/Gemfile'\ngem 'sqlite3', '~> 1.4.0'\ngem 'webrick'\n"
        )
        (self.directory / "boot.rb").write_text(_BOOT)
        (self.directory / "server.rb").write_text(_SERVER)
        (self.directory / "setup.rb").write_text(
            _SETUP % {"mail_from": MAIL_FROM, "password": PASSWORD}
        )

    def _env(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key != "X_DEBIAN_SITEID"}
        env.update(
            RAILS_ENV="production",
            BUNDLE_GEMFILE=str(self.directory / "Gemfile"),
            # /usr/share/redmine/instances/<this>: climb to / and down into our directory.
            REDMINE_INSTANCE="../" * 16 + str(self.instance).lstrip("/"),
            SCHEMA="/dev/null",  # as Debian's postinst: no db/schema.rb under /usr/share
            RM_PORT=str(self.port),
            **extra,
        )
        return env

    def _run(self, *command: str, stdin: bytes | None = None, **extra: str) -> str:
        done = subprocess.run(
            list(command), cwd=REDMINE, env=self._env(**extra), input=stdin,
            capture_output=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise HelpdeskError(f"{' '.join(command[:2])} failed: {done.stderr[-2000:]!r}")
        return done.stdout.decode("utf-8", "replace")

    def _rest(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - self.url is http://127.0.0.1:<port>
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json", "X-Redmine-API-Key": self._key},
        )
        try:
            with self._http.open(request, timeout=60) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as exc:
            raise HelpdeskError(f"REST {method} {path}: {exc.code} {exc.read()[:300]!r}") from exc
        return dict(json.loads(raw)) if raw.strip() else {}
