"""A ticket as a record (a CSV row, a JSON object from an export file, a webhook payload, an
API answer) mapped into a ``Resolution``: field names per product (``mapping``), timestamps in
the products' formats (``timestamps``), one record to a resolution (``rows``). Shared by every
source family that reads records: export, webhook, api.
"""
