# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Subuser discovery: paging to the end, regions, filters."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from ansible_collections.mailops.sendgrid.tests.unit.plugins.modules.utils import run_module
from ansible_collections.mailops.sendgrid.plugins.modules import sendgrid_subuser_info

KEY = "SG.subuser-test-secret"
URL = "https://api.sendgrid.com/v3/subusers"
SUBUSERS = [
    {"username": "marketing", "id": 1, "disabled": False, "email": "m@example.com", "region": "global"},
    {"username": "billing", "id": 2, "disabled": True, "email": "b@example.com", "region": "global"},
    {"username": "eu-news", "id": 3, "disabled": False, "email": "e@example.com", "region": "eu"},
    {"username": "test-1", "id": 4, "disabled": False, "email": "t@example.com", "region": "global"},
    {"username": "eu-test", "id": 5, "disabled": False, "email": "t@example.com", "region": "eu"},
]


def pages(request):
    query = parse_qs(urlparse(request.url).query)
    offset, limit = int(query["offset"][0]), int(query["limit"][0])
    return 200, {}, json.dumps(SUBUSERS[offset:offset + limit])


def run(capsys, **args):
    return run_module(sendgrid_subuser_info, capsys, **dict({"api_key": KEY}, **args))


@responses.activate
def test_follows_paging_to_the_end_asking_for_regions(capsys):
    responses.add_callback("GET", URL, callback=pages)
    result = run(capsys, page_size=2)
    queries = [parse_qs(urlparse(call.request.url).query) for call in responses.calls]
    assert [(q["offset"], q["limit"], q["include_region"], q["region"]) for q in queries] == [
        (["0"], ["2"], ["true"], ["all"]), (["2"], ["2"], ["true"], ["all"]), (["4"], ["2"], ["true"], ["all"]),
        (["5"], ["2"], ["true"], ["all"])]  # only an empty page proves the end
    assert result["total"] == 5
    assert result["subusers"][2] == {"username": "eu-news", "id": 3, "disabled": False, "region": "eu"}
    assert "email" not in result["subusers"][0]


@responses.activate
def test_a_full_last_page_costs_one_more_request(capsys):
    responses.add_callback("GET", URL, callback=pages)
    run(capsys, page_size=5)
    assert len(responses.calls) == 2


@responses.activate
def test_filters_by_pattern_exclusion_and_disabled(capsys):
    responses.add_callback("GET", URL, callback=pages)
    result = run(capsys, names=["eu-*", "marketing", "billing"], exclude=["*test*"], disabled=False)
    assert [s["username"] for s in result["subusers"]] == ["marketing", "eu-news"]


@responses.activate
def test_missing_scope_names_subusers_read(capsys):
    responses.get(URL, status=403, json={"errors": [{"field": None, "message": "access forbidden"}]})
    result = run(capsys)
    assert result["failed"] is True
    assert "subusers.read" in result["msg"]


@responses.activate
@pytest.mark.parametrize("page_size", [0, 501])
def test_page_size_out_of_range_fails_before_any_request(capsys, page_size):
    result = run(capsys, page_size=page_size)
    assert "page_size must be from 1 to 500" in result["msg"]
    assert len(responses.calls) == 0


@responses.activate
def test_a_server_that_answers_shorter_pages_than_asked_cannot_hide_subusers(capsys):
    """SendGrid documents no maximum page size: a page of 2 when 500 were asked for is not the end."""
    def capped(request):
        query = parse_qs(urlparse(request.url).query)
        offset = int(query["offset"][0])
        return 200, {}, json.dumps(SUBUSERS[offset:offset + 2])

    responses.add_callback("GET", URL, callback=capped)
    result = run(capsys)
    offsets = [parse_qs(urlparse(call.request.url).query)["offset"] for call in responses.calls]
    assert offsets == [["0"], ["2"], ["4"], ["5"]]
    assert result["total"] == 5 and len(result["subusers"]) == 5
