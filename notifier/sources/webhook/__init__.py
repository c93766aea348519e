"""Webhook sources: helpdesks push an event when a ticket changes (docs/webhooks.md).

``auth`` checks that a request comes from the product (signatures, shared secrets, replay
windows); ``presets`` holds each product's payload mapping and check; ``receiver`` decides one
request's answer and commits the event (the 2xx waits for the commit); ``server`` serves the
receivers over HTTP with waitress, under limits; ``source`` reads the committed events into
the service's pass like any other source.
"""
