"""Subusers (tsg_subusers_v3), read only: the list every host serves from the shared account definition.

    GET     /v3/subusers?limit=&offset=&username=&region=&include_region=    subusers.read

The subusers are given at start (--subuser NAME[:REGION][:disabled], --subusers N / --eu-subusers M, "subusers"
of the accounts file; by default the demo's marketing, billing and eu-newsletter, see config.py) or added at
runtime (add_subusers(), POST /__control__/subusers); each is {"username", "id", "email", "disabled", "region"},
ids from 10001 on.  Each has its own state of every other family, and is pinned to one region: on-behalf-of it on
the other host is a 403 naming the host to use.

GET /v3/subusers lists every subuser on both hosts, in id order, as {"disabled", "email", "id", "username"}
(plus "region" with include_region=true); region=all|global|eu filters them, username=NAME keeps that one.  On
behalf of a subuser or customer account it lists none.  limit (default 100) must be an integer >= 1 and offset
one >= 0; the spec documents no maximum for limit, and none is enforced unless --max-page-size N (runtime:
max_page_size) is given: then a page silently holds at most N subusers whatever limit asked for, as a real server
may do.  A bad parameter is a 400 naming it.
"""

from .common import PARENT, REGIONS, Answer, Family, Route, invalid

SUBUSERS_PATH = "/v3/subusers"
SCOPE_SUBUSERS_READ = "subusers.read"
SUBUSERS_DEFAULT_LIMIT = 100


def list_subusers(request):
    """One page of subusers; limit >= 1 (default 100, no maximum unless max_page_size caps it), offset >= 0."""
    params = request.params()
    errors = []

    def integer(name, default, low):
        try:
            value = int(params.get(name, default))
        except ValueError:
            value = None
        if value is None or value < low:
            errors.append({"field": name, "message": f"{name} must be an integer >= {low}"})
        return value

    # the spec gives limit no maximum; 0 or less cannot make a page
    limit = integer("limit", SUBUSERS_DEFAULT_LIMIT, 1)
    offset = integer("offset", 0, 0)
    region = params.get("region", "all")
    if region not in ("all",) + REGIONS:
        errors.append({"field": "region", "message": "region must be one of all, global, eu"})
    include_region = params.get("include_region", "false").lower()
    if include_region not in ("true", "false"):
        errors.append({"field": "include_region", "message": "include_region must be true or false"})
    if errors:
        return invalid(errors)
    backend = request.backend
    # a subuser or customer account has no subusers of its own here
    subusers = backend.list_subusers() if request.account == PARENT else []
    if "username" in params:
        subusers = [s for s in subusers if s["username"] == params["username"]]
    if region != "all":
        subusers = [s for s in subusers if s["region"] == region]
    fields = ("disabled", "email", "id", "username") + (("region",) if include_region == "true" else ())
    cap = backend.setting("max_page_size")
    size = limit if cap is None else min(limit, cap)
    return Answer(200, [{f: s[f] for f in fields} for s in subusers[offset:offset + size]])


FAMILY = Family("subusers", [Route(SUBUSERS_PATH, "GET", SCOPE_SUBUSERS_READ, list_subusers)])
