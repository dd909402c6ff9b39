"""The write path: OTel spans and log records → rows → the store."""
