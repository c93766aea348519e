"""The products an ``[[api]]`` source can read: for each, how a token is sent and its reader.

One entry per product; bootstrap looks the configured ``product`` up here, so adding a product
is a module with its reader and one line below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo

from notifier.sources.api.client import ApiAuth
from notifier.sources.api.freshdesk import FreshdeskReader
from notifier.sources.api.glpi import GlpiReader, session_auth
from notifier.sources.api.jira import JiraReader
from notifier.sources.api.redmine import RedmineReader
from notifier.sources.api.roundup import RoundupReader
from notifier.sources.api.rt import RtReader
from notifier.sources.api.servicenow import ServiceNowReader
from notifier.sources.api.source import TicketReader
from notifier.sources.api.zammad import ZammadReader
from notifier.sources.api.zendesk import ZendeskReader


@dataclass(frozen=True)
class ReaderOptions:
    query: str = ""  # more of the product's own query
    resolved: tuple[str, ...] = ()  # the resolved statuses; () for the product's own
    zone: tzinfo | None = None  # the time zone of dates that carry none (GLPI)


@dataclass(frozen=True)
class ApiProduct:
    reader: Callable[[ReaderOptions], TicketReader]
    token_auth: Callable[[str], ApiAuth]  # how an API token (token_file) is sent
    # A product that logs in once per session (GLPI): (base URL, credentials, app token) ->
    # the login every request then carries.
    session: Callable[[str, ApiAuth, str], ApiAuth] | None = None


def _bearer(token: str) -> ApiAuth:
    return ApiAuth("bearer", token)


PRODUCTS: dict[str, ApiProduct] = {
    "rt": ApiProduct(
        lambda o: RtReader(query=o.query, resolved=o.resolved or ("resolved",)),
        lambda token: ApiAuth("header", token, header="Authorization", scheme="token"),
    ),
    "redmine": ApiProduct(
        lambda o: RedmineReader(project=o.query, resolved=o.resolved or ("Resolved", "Closed")),
        lambda token: ApiAuth("header", token, header="X-Redmine-API-Key"),
    ),
    "zendesk": ApiProduct(  # an OAuth access token
        lambda o: ZendeskReader(resolved=o.resolved or ("solved", "closed")),
        _bearer,
    ),
    "roundup": ApiProduct(  # a JWT, where the tracker issues them
        lambda o: RoundupReader(query=o.query, resolved=o.resolved or ("resolved",)),
        _bearer,
    ),
    "jira": ApiProduct(  # an OAuth 2.0 access token (an API token goes with basic auth)
        lambda o: JiraReader(query=o.query, resolved=o.resolved or ("done",)),
        _bearer,
    ),
    "servicenow": ApiProduct(  # an OAuth access token got elsewhere
        lambda o: ServiceNowReader(query=o.query, resolved=o.resolved or ("Resolved", "Closed")),
        _bearer,
    ),
    "freshdesk": ApiProduct(  # the API key is the user name, the password "X"
        lambda o: FreshdeskReader(resolved=o.resolved or ("Resolved", "Closed")),
        lambda token: ApiAuth("basic", "X", user=token),
    ),
    "glpi": ApiProduct(  # a user token (Authorization: user_token ...), for initSession
        lambda o: GlpiReader(resolved=o.resolved or ("solved", "closed"), zone=o.zone),
        lambda token: ApiAuth("header", token, header="Authorization", scheme="user_token"),
        session=session_auth,
    ),
    "zammad": ApiProduct(
        lambda o: ZammadReader(query=o.query, resolved=o.resolved or ("closed",)),
        lambda token: ApiAuth("header", f"token={token}", header="Authorization", scheme="Token"),
    ),
}
