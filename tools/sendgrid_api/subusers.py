"""Subusers: GET /v3/subusers (tsg_subusers_v3), the list every host serves from the shared account definition."""

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
