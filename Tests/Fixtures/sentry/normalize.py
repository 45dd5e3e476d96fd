#!/usr/bin/env python3
"""Runs a Sentry event (the JSON file named first) through Relay's own normalizer (PyPI
sentry-relay, the library Sentry's ingestion uses) for project id argv[2] and prints the
normalized event as JSON; exits 1 if the normalizer reports errors (in the event's "errors")."""
import json
import sys

from sentry_relay.processing import StoreNormalizer

with open(sys.argv[1]) as f:
    event = json.load(f)
normalized = StoreNormalizer(project_id=int(sys.argv[2])).normalize_event(event)
json.dump(normalized, sys.stdout)
sys.exit(1 if normalized.get("errors") else 0)
