"""Subusers (tools/sendgrid_api/subusers.py): GET /v3/subusers, and subusers added at runtime."""
# Test names say what each test pins; a docstring would repeat them.
# pylint: disable=missing-function-docstring,too-many-arguments

import pytest

from .helpers import DEFAULT, SETTING_DEFAULTS, TLS, call, control, errors_of, options, path_of, sg


def test_subusers_pages_in_stable_order_and_offset_past_end_is_empty():
    with sg.running_server(**options(subusers=None, generate_subusers=7)) as srv:
        pages = [call(srv, "GET", "/v3/subusers", params={"limit": 3, "offset": offset}).json() for offset in (0, 3, 6, 9)]
        assert [len(page) for page in pages] == [3, 3, 1, 0]
        names = [s["username"] for page in pages for s in page]
        assert names == [f"subuser-{i:03d}" for i in range(1, 8)]
        ids = [s["id"] for page in pages for s in page]
        assert ids == sorted(ids) and len(set(ids)) == 7
        assert set(pages[0][0]) == {"disabled", "email", "id", "username"}


def test_subusers_default_page_is_100_and_limit_has_no_maximum():
    with sg.running_server(**options(subusers=None, generate_subusers=620)) as srv:
        assert len(call(srv, "GET", "/v3/subusers").json()) == 100
        assert len(call(srv, "GET", "/v3/subusers", params={"limit": 500}).json()) == 500
        page = call(srv, "GET", "/v3/subusers", params={"limit": 600})
        assert page.status_code == 200
        assert [s["username"] for s in page.json()] == [f"subuser-{i:03d}" for i in range(1, 601)]
        assert len(call(srv, "GET", "/v3/subusers", params={"limit": 10 ** 9}).json()) == 620
        assert call(srv, "GET", "/v3/subusers", params={"offset": 100}).json()[0]["username"] == "subuser-101"


@pytest.mark.parametrize("params, field", [({"limit": 0}, "limit"), ({"limit": -1}, "limit"), ({"limit": "x"}, "limit"),
                                           ({"limit": "1.5"}, "limit"), ({"offset": -1}, "offset"),
                                           ({"region": "us"}, "region"), ({"include_region": "yes"}, "include_region")])
def test_subusers_bad_query_is_400(srv, params, field):
    response = call(srv, "GET", "/v3/subusers", params=params)
    assert response.status_code == 400
    assert errors_of(response)[0]["field"] == field


def subuser_names(server, **params):
    """Usernames on one page of GET /v3/subusers."""
    response = call(server, "GET", "/v3/subusers", params=params)
    assert response.status_code == 200
    return [s["username"] for s in response.json()]


def test_max_page_size_caps_every_page_whatever_limit_asks():
    with sg.running_server(**options(subusers=None, generate_subusers=120, max_page_size=50)) as srv:
        everyone = [f"subuser-{i:03d}" for i in range(1, 121)]
        assert control(srv, "GET", "config")["max_page_size"] == 50
        assert subuser_names(srv) == everyone[:50]
        assert subuser_names(srv, limit=500) == everyone[:50]
        assert subuser_names(srv, limit=10, offset=45) == everyone[45:55]
        assert subuser_names(srv, limit=100, offset=100) == everyone[100:]
        # silently: a client stepping offset by its limit skips subuser-051..100
        assert subuser_names(srv, limit=100) + subuser_names(srv, limit=100, offset=100) == everyone[:50] + everyone[100:]
        # one stepping by the size it got sees everyone once
        seen, page = [], None
        while page != []:
            page = subuser_names(srv, limit=100, offset=len(seen))
            seen += page
        assert seen == everyone
        assert call(srv, "GET", "/v3/subusers", params={"limit": 0}).status_code == 400


def test_max_page_size_is_set_and_removed_at_runtime(srv):
    assert control(srv, "GET", "config")["max_page_size"] is None
    assert control(srv, "PUT", "config", json={"max_page_size": 2})["max_page_size"] == 2
    assert subuser_names(srv) == ["marketing", "billing"]
    assert subuser_names(srv, offset=2) == ["eu-news"]
    # changing something else keeps the cap; null removes it
    assert control(srv, "PUT", "config", json={"latency_ms": 0})["max_page_size"] == 2
    assert control(srv, "PUT", "config", json={"max_page_size": None})["max_page_size"] is None
    assert subuser_names(srv) == ["marketing", "billing", "eu-news"]
    assert srv.set_config(max_page_size=1)["max_page_size"] == 1
    assert subuser_names(srv, limit=3) == ["marketing"]
    srv.reset()
    assert control(srv, "GET", "config")["max_page_size"] is None


def test_subusers_include_region_adds_the_region_key(srv):
    plain = call(srv, "GET", "/v3/subusers").json()
    assert all("region" not in s for s in plain)
    assert all("region" not in s for s in call(srv, "GET", "/v3/subusers", params={"include_region": "false"}).json())
    with_region = call(srv, "GET", "/v3/subusers", params={"include_region": "true"}).json()
    assert {s["username"]: s["region"] for s in with_region} == {"marketing": "global", "billing": "global", "eu-news": "eu"}
    assert {s["username"]: s["disabled"] for s in with_region} == {"marketing": False, "billing": True, "eu-news": False}


@pytest.mark.parametrize("region, names", [("all", ["marketing", "billing", "eu-news"]), ("global", ["marketing", "billing"]),
                                           ("eu", ["eu-news"])])
def test_subusers_region_filter(srv, region, names):
    assert [s["username"] for s in call(srv, "GET", "/v3/subusers", params={"region": region}).json()] == names


def test_subusers_username_filter(srv):
    assert [s["username"] for s in call(srv, "GET", "/v3/subusers", params={"username": "billing"}).json()] == ["billing"]
    assert call(srv, "GET", "/v3/subusers", params={"username": "bill"}).json() == []


def test_subusers_added_at_runtime_get_default_settings(srv):
    added = srv.add_subusers([{"username": "late", "region": "eu"}, "later:disabled"])
    assert [s["username"] for s in added] == ["late", "later"]
    names = [s["username"] for s in call(srv, "GET", "/v3/subusers").json()]
    assert names[-2:] == ["late", "later"]
    assert call(srv, "GET", TLS, obo="later").json() == DEFAULT


def test_subusers_added_at_runtime_get_every_default_setting(srv):
    srv.add_subusers(["late"])
    for key, default in SETTING_DEFAULTS.items():
        assert call(srv, "GET", path_of(key), obo="late").json() == default
