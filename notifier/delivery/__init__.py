"""Delivery: builds the e-mail for a notice (``message``) and sends it over SMTP (``smtp``)."""
