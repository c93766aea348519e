"""ServiceNow: an *after update* business rule on ``incident`` (condition: *State changes to
Resolved*, and one for *changes from Resolved*) that POSTs the JSON in :data:`PASTE` with
``sn_ws.RESTMessageV2``. ServiceNow signs nothing: the script sends
``Authorization: Bearer <token>`` from a system property, checked here against the secret.
``event_id`` (the record's ``sys_id`` and its ``sys_mod_count``) names the event.

State 6 is Resolved, 7 Closed (display values "Resolved", "Closed"); the ticket id is the
incident number (``INC0010023``), as in ServiceNow's mail and exports.

Sources: ServiceNow/ServiceNowDocs markdown/api-reference/server-api-reference/
c_RESTMessageV2API.md (setEndpoint, setRequestHeader, setRequestBody, executeAsync).
"""

from __future__ import annotations

from notifier.sources.webhook.auth import Check
from notifier.sources.webhook.presets.preset import WebhookPreset, mapping_of

PASTE = """(function executeRule(current, previous) {
    var body = {
        event_id: current.sys_id + ':' + current.sys_mod_count,
        number: current.number + '',
        state: current.state.getDisplayValue(),
        short_description: current.short_description + '',
        caller_email: current.caller_id.email + '',
        caller_name: current.caller_id.name + '',
        assignment_group: current.assignment_group.getDisplayValue(),
        close_notes: current.close_notes + '',
        resolved_at: current.resolved_at + '',
        sys_updated_on: current.sys_updated_on + ''
    };
    var request = new sn_ws.RESTMessageV2();
    request.setEndpoint(gs.getProperty('notifier.webhook.url'));
    request.setHttpMethod('post');
    request.setRequestHeader('Content-Type', 'application/json');
    request.setRequestHeader('Authorization', 'Bearer ' + gs.getProperty('notifier.webhook.token'));
    request.setRequestBody(JSON.stringify(body));
    request.executeAsync();
})(current, previous);"""

PRESET = WebhookPreset(
    key="servicenow",
    product="ServiceNow",
    check=Check("bearer"),
    mapping=mapping_of(
        {
            "ticket_id": "number",
            "title": "short_description",
            "status": "state",
            "requester_email": "caller_email",
            "requester_name": "caller_name",
            "team": "assignment_group",
            "resolved_at": ("resolved_at", "sys_updated_on"),
            "updated_at": "sys_updated_on",
            "resolution_note": "close_notes",
        },
        ("Resolved", "Closed", "6", "7"),
    ),
    event_id_field="event_id",
    sources="ServiceNow/ServiceNowDocs c_RESTMessageV2API.md",
    paste=PASTE,
)
