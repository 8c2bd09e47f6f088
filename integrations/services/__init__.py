"""The clinic's services: each call is one transaction and returns dataclasses, never ORM rows."""
