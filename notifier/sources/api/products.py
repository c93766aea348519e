"""The products an ``[[api]]`` source can read: for each, how a token is sent and its reader.

One entry per product; bootstrap looks the configured ``product`` up here, so adding a product
is a module with its reader and one line below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from notifier.sources.api.client import ApiAuth
from notifier.sources.api.freshdesk import FreshdeskReader
from notifier.sources.api.jira import JiraReader
from notifier.sources.api.redmine import RedmineReader
from notifier.sources.api.roundup import RoundupReader
from notifier.sources.api.rt import RtReader
from notifier.sources.api.servicenow import ServiceNowReader
from notifier.sources.api.source import TicketReader
from notifier.sources.api.zammad import ZammadReader
from notifier.sources.api.zendesk import ZendeskReader


@dataclass(frozen=True)
class ApiProduct:
    # The reader, from the source's ``query`` and its resolved statuses (() for the default).
    reader: Callable[[str, tuple[str, ...]], TicketReader]
    token_auth: Callable[[str], ApiAuth]  # how an API token (token_file) is sent


def _bearer(token: str) -> ApiAuth:
    return ApiAuth("bearer", token)


PRODUCTS: dict[str, ApiProduct] = {
    "rt": ApiProduct(
        lambda query, resolved: RtReader(query=query, resolved=resolved or ("resolved",)),
        lambda token: ApiAuth("header", token, header="Authorization", scheme="token"),
    ),
    "redmine": ApiProduct(
        lambda query, resolved: RedmineReader(
            project=query, resolved=resolved or ("Resolved", "Closed")
        ),
        lambda token: ApiAuth("header", token, header="X-Redmine-API-Key"),
    ),
    "zendesk": ApiProduct(  # an OAuth access token
        lambda _query, resolved: ZendeskReader(resolved=resolved or ("solved", "closed")),
        _bearer,
    ),
    "roundup": ApiProduct(  # a JWT, where the tracker issues them
        lambda query, resolved: RoundupReader(query=query, resolved=resolved or ("resolved",)),
        _bearer,
    ),
    "jira": ApiProduct(  # an OAuth 2.0 access token (an API token goes with basic auth)
        lambda query, resolved: JiraReader(query=query, resolved=resolved or ("done",)),
        _bearer,
    ),
    "servicenow": ApiProduct(  # an OAuth access token got elsewhere
        lambda query, resolved: ServiceNowReader(
            query=query, resolved=resolved or ("Resolved", "Closed")
        ),
        _bearer,
    ),
    "freshdesk": ApiProduct(  # the API key is the user name, the password "X"
        lambda _query, resolved: FreshdeskReader(resolved=resolved or ("Resolved", "Closed")),
        lambda token: ApiAuth("basic", "X", user=token),
    ),
    "zammad": ApiProduct(
        lambda query, resolved: ZammadReader(query=query, resolved=resolved or ("closed",)),
        lambda token: ApiAuth("header", f"token={token}", header="Authorization", scheme="Token"),
    ),
}
