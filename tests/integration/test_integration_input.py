"""Refusals before any request: bad input and plain http:// off this machine. The server sees nothing."""

from __future__ import annotations

import pytest

from conftest import assert_clear_failure, assert_nothing_sent, run_playbook


def test_plain_http_to_a_host_that_is_not_this_machine_is_refused_before_any_request(server, tally):
    # 0.0.0.0 is not a loopback address, yet a connection to it would reach this test's server
    url = server.url.replace("127.0.0.1", "0.0.0.0")

    run = run_playbook("enforced_tls.yml", dict(sg_api_url=url, sg_require_tls=True))

    message = assert_clear_failure(run, "enforce")
    assert message == (
        "api_url %s uses plain http:// to a host that is not this machine: the API key would cross the network "
        "unencrypted. Use https://, or http:// only with 127.0.0.1, ::1 or localhost." % url)
    assert_nothing_sent(server)
    tally("bad_input_rejected")


@pytest.mark.parametrize("options, expected", [
    pytest.param(dict(sg_require_tls="maybe"), "argument 'require_tls' is of type str and we were unable to convert to bool",
                 id="non-boolean"),
    pytest.param(dict(sg_min_tls_version="1.0"), "value of min_tls_version must be one of: 1.1, 1.2, 1.3, got: 1.0",
                 id="tls-version-1.0"),
    pytest.param(dict(sg_retries=-1), "retries and retry_max_wait must be zero or more", id="negative-retries"),
])
def test_bad_option_value_fails_naming_the_option_and_sends_nothing(server, tally, options, expected):
    run = run_playbook("enforced_tls.yml", dict(sg_api_url=server.url, **options))

    message = assert_clear_failure(run, "enforce")
    assert expected in message, message
    assert_nothing_sent(server)
    tally("bad_input_rejected")


def test_unknown_option_fails_naming_it_and_sends_nothing(server, tally):
    run = run_playbook("unknown_option.yml", dict(sg_api_url=server.url))

    message = assert_clear_failure(run, "enforce")
    assert "Unsupported parameters for (mailops.sendgrid.sendgrid_enforced_tls) module: require_ssl" in message, message
    assert_nothing_sent(server)
    tally("bad_input_rejected")


def test_missing_api_key_fails_naming_it_and_sends_nothing(server, tally):
    run = run_playbook("enforced_tls.yml", dict(sg_api_url=server.url, sg_require_tls=True), api_key=None)

    message = assert_clear_failure(run, "enforce")
    assert message == "missing required arguments: api_key", message
    assert_nothing_sent(server)
    tally("bad_input_rejected")


def test_line_break_in_on_behalf_of_fails_naming_it_and_sends_nothing(server, tally):
    run = run_playbook("enforced_tls.yml", dict(sg_api_url=server.url, sg_on_behalf_of="marketing\r\nX-Evil: 1",
                                                sg_require_tls=True))

    message = assert_clear_failure(run, "enforce")
    assert message == "on_behalf_of must be a non-empty value without line breaks or control characters."
    assert_nothing_sent(server)
    tally("bad_input_rejected")
