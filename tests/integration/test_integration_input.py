"""Refusals before any request: bad input and plain http:// off this machine. The server sees nothing.

The cases run together in one ansible-playbook (conftest.run_cases: each on a host and a server of its own).
"""

from __future__ import annotations

import pytest

from conftest import Cases, PlaybookCase, assert_clear_failure, assert_nothing_sent

CASES = Cases()


@pytest.fixture(name="runs", scope="module")
def fixture_runs(module_start_server):
    """{case: (run, server)}: every case of this file, run once."""
    return CASES.run(module_start_server)


@CASES.add("plain http off this machine")
def _plain_http(start):
    server = start()
    # 0.0.0.0 is not a loopback address, yet a connection to it would reach this case's server
    return server, PlaybookCase("enforced_tls.yml", dict(sg_api_url=server.url.replace("127.0.0.1", "0.0.0.0"),
                                                         sg_require_tls=True))


def test_plain_http_to_a_host_that_is_not_this_machine_is_refused_before_any_request(runs, tally):
    run, server = runs["plain http off this machine"]
    url = server.url.replace("127.0.0.1", "0.0.0.0")

    message = assert_clear_failure(run, "enforce")
    assert message == (
        "api_url %s uses plain http:// to a host that is not this machine: the API key would cross the network "
        "unencrypted. Use https://, or http:// only with 127.0.0.1, ::1 or localhost." % url)
    assert_nothing_sent(server)
    tally("bad_input_rejected")


BAD_VALUES = {
    "non-boolean": dict(sg_require_tls="maybe"),
    "tls-version-1.0": dict(sg_min_tls_version="1.0"),
    "negative-retries": dict(sg_retries=-1),
}


def _bad_value(start, options):
    server = start()
    return server, PlaybookCase("enforced_tls.yml", dict(sg_api_url=server.url, **options))


for _name, _options in BAD_VALUES.items():
    CASES.add("bad value: " + _name, options=_options)(_bad_value)


@pytest.mark.parametrize("name, expected", [
    ("non-boolean", "value of require_tls must be true or false, got: maybe"),
    ("tls-version-1.0", "value of min_tls_version must be one of: 1.1, 1.2, 1.3, got: 1.0"),
    ("negative-retries", "retries and retry_max_wait must be zero or more"),
])
def test_bad_option_value_fails_naming_the_option_and_sends_nothing(runs, tally, name, expected):
    run, server = runs["bad value: " + name]

    message = assert_clear_failure(run, "enforce")
    assert expected in message, message
    assert_nothing_sent(server)
    tally("bad_input_rejected")


@CASES.add("unknown option")
def _unknown_option(start):
    server = start()
    return server, PlaybookCase("unknown_option.yml", dict(sg_api_url=server.url))


def test_unknown_option_fails_naming_it_and_sends_nothing(runs, tally):
    run, server = runs["unknown option"]

    message = assert_clear_failure(run, "enforce")
    assert "Unsupported parameters for (mailops.sendgrid.sendgrid_enforced_tls) module: require_ssl" in message, message
    assert_nothing_sent(server)
    tally("bad_input_rejected")


@CASES.add("missing api key")
def _missing_api_key(start):
    server = start()
    return server, PlaybookCase("enforced_tls.yml", dict(sg_api_url=server.url, sg_require_tls=True), api_key=None)


def test_missing_api_key_fails_naming_it_and_sends_nothing(runs, tally):
    run, server = runs["missing api key"]

    message = assert_clear_failure(run, "enforce")
    assert message == "missing required arguments: api_key", message
    assert_nothing_sent(server)
    tally("bad_input_rejected")


@CASES.add("line break in on_behalf_of")
def _line_break(start):
    server = start()
    return server, PlaybookCase("enforced_tls.yml", dict(sg_api_url=server.url, sg_require_tls=True,
                                                         sg_on_behalf_of="marketing\r\nX-Evil: 1"))


def test_line_break_in_on_behalf_of_fails_naming_it_and_sends_nothing(runs, tally):
    run, server = runs["line break in on_behalf_of"]

    message = assert_clear_failure(run, "enforce")
    assert message == "on_behalf_of must be a non-empty value without line breaks or control characters."
    assert_nothing_sent(server)
    tally("bad_input_rejected")
