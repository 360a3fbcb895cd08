"""Scopes (tsg_scopes_v3), read only: the scopes of the API key that calls.

    GET     /v3/scopes                    no scope: any valid key

The spec names no scope for this operation (its only security is the bearer key), so any known key may call it,
a key without a single scope included; it is refused only as every route is (401 without a known key, 403 from
an address IP Access Management does not permit, 404/403 of an unknown or other-region on-behalf-of account).

It answers {"scopes": [...]}: the scopes the calling key was given (--key, "keys" of an accounts file), sorted,
each once (the spec's uniqueItems).  On behalf of a subuser or customer account it answers the same list: the
scopes are the calling key's, whatever account it targets.  A key created by POST /v3/api_keys gets the scopes it
holds now (a PUT changes them); keys planted on an account (api_keys.py) authenticate nothing, so they never call it.
"""

from .common import Answer, Family, Route

SCOPES_PATH = "/v3/scopes"
# The scope this route needs: none (see above).
SCOPE_NONE = None


def list_scopes(request):
    """GET: {"scopes": [the calling key's scopes, sorted]}."""
    return Answer(200, {"scopes": sorted(request.scopes)})


FAMILY = Family("scopes", [Route(SCOPES_PATH, "GET", SCOPE_NONE, list_scopes)])
