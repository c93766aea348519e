"""GLPI 11's own webhooks (``src/Webhook.php``): for an item type and event (Ticket, *update*)
GLPI POSTs ``{"item": <the HL API's Ticket>, "event": "update"}``, signed: ``X-GLPI-signature``
is the hex HMAC-SHA256 of the body followed by ``X-GLPI-timestamp`` (unix seconds), keyed with
the webhook's secret. Webhooks wait in GLPI's queue (``QueuedWebhook``) and a retry resends
the same body and headers, timestamp included: a stale timestamp is no replay here, and the
same event is known by a digest of its body.

The Ticket's ``status`` is ``{"id", "name"}``: 5 is Solved, 6 Closed (``CommonITILObject``);
``name`` is translated, so the id decides. The requester is the ``team`` member whose
``role`` is ``requester``, named by login only: GLPI's payload carries no address. A login
that is an address (SSO and LDAP set-ups often use them) is read as the requester's address;
any other is rejected, naming the login (docs/webhooks.md, "GLPI").

Sources: glpi-project/glpi src/Webhook.php (raise, getSignature), src/QueuedWebhook.php,
src/Glpi/Api/HL/Controller/ITILController.php (the Ticket schema), src/CommonITILObject.php.
"""

from __future__ import annotations

from collections.abc import Mapping

from notifier.sources.webhook.auth import Check
from notifier.sources.webhook.presets.preset import Payload, WebhookPreset, mapping_of

_STATUS_WORDS = {1: "new", 2: "assigned", 3: "planned", 4: "waiting", 5: "solved", 6: "closed"}


def prepare(payload: Payload) -> Payload:
    item = payload.get("item")
    if not isinstance(item, Mapping) or item.get("id") in (None, ""):
        raise ValueError("no 'item' with an 'id'")
    status = item.get("status")
    code = status.get("id") if isinstance(status, Mapping) else status
    word = _STATUS_WORDS.get(code, str(code)) if isinstance(code, int) else str(code or "")
    requester, name = "", ""
    for member in item.get("team") or ():
        if isinstance(member, Mapping) and member.get("role") == "requester":
            login = str(member.get("name") or "")
            full = f"{member.get('firstname') or ''} {member.get('realname') or ''}".strip()
            if "@" not in login:
                raise ValueError(
                    f"the requester is named by login {login[:80]!r}, not an address: GLPI's "
                    "webhook carries no address (docs/webhooks.md, 'GLPI')"
                )
            requester, name = login, full
            break
    return {
        "ticket_id": str(item.get("id")),
        "title": item.get("name") or "",
        "status": word,
        "requester_email": requester,
        "requester_name": name,
        # The HL API's Ticket has no date_solve: the first Solved event's time stands for it,
        # and later updates of the solved ticket are not new resolutions (told_until_reopened).
        "resolved_at": item.get("date_solve") or item.get("date_mod") or "",
        "updated_at": item.get("date_mod") or "",
        "team": (item.get("entity") or {}).get("name", "")
        if isinstance(item.get("entity"), Mapping)
        else "",
    }


PRESET = WebhookPreset(
    key="glpi",
    product="GLPI",
    check=Check(
        "hmac",
        header="X-GLPI-signature",
        signed="body+timestamp",
        timestamp_header="X-GLPI-timestamp",
        window=False,
    ),
    mapping=mapping_of(
        {
            name: name
            for name in (
                "ticket_id",
                "title",
                "status",
                "requester_email",
                "requester_name",
                "resolved_at",
                "updated_at",
                "team",
            )
        },
        ("solved", "closed"),
    ),
    prepare=prepare,
    told_until_reopened=True,  # every update of a solved ticket is sent; no date_solve in it
    sources="glpi-project/glpi src/Webhook.php, src/QueuedWebhook.php, ITILController.php",
)
