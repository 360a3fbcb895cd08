"""Tests of tools/sendgrid_api_server.py (a package, so that its module names never clash with tests/unit's)."""
