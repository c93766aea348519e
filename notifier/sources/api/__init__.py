"""API sources: a helpdesk's REST API asked for the tickets changed since a cursor
(docs/api-sources.md).

``client`` is the HTTP side (httpx: timeouts always set, TLS verified, rate limits honoured,
answers size-capped, OAuth2 tokens renewed, errors as ``SourceError``); one module per product
(``rt``, ``redmine``, ``roundup``, ``zendesk``, ``jira``, ``servicenow``, ``freshdesk``,
``zammad``) pages through its search and turns each ticket into a record, listed in
``products``; ``paging`` and ``replies`` are what several of them share; ``source`` maps the
records with the shared record mapping and commits the cursor with what it produced.
"""
