# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Connection and authentication options shared by every mailops.sendgrid module.
    DOCUMENTATION = r"""
options:
  api_key:
    description:
      - "A SendGrid API key, sent as C(Authorization: Bearer <key>)."
      - It is never shown in results, messages, diffs or warnings.
      - If not set (left out, V(null) or empty), the value of the environment variable E(SENDGRID_API_KEY) is used.
    type: str
    required: true
  region:
    description:
      - The SendGrid region whose API host to use.
      - V(global) is U(https://api.sendgrid.com); V(eu) is U(https://api.eu.sendgrid.com), for EU regional subusers.
      - The host is chosen by one rule in every module. For V(eu), O(eu_api_url) when set, else O(api_url) when
        set, else U(https://api.eu.sendgrid.com). For V(global), O(api_url) when set, else U(https://api.sendgrid.com).
    type: str
    choices: [global, eu]
    default: global
  api_url:
    description:
      - The base URL of the API, overriding O(region), for a proxy or a local SendGrid-compatible API server.
      - Plain C(http://) is refused unless the host is this machine (C(127.0.0.0/8), C(::1) or C(localhost)),
        so that the API key never crosses a network unencrypted.
      - The base URL only, such as V(https://api.sendgrid.com), without C(/v3); a URL ending in C(/v3) is refused.
      - If not set (left out, V(null) or empty), the value of the environment variable E(SENDGRID_API_URL) is used.
    type: str
  eu_api_url:
    description:
      - The base URL for the EU region (O(region=eu), and EU accounts of the many-account modules), overriding
        U(https://api.eu.sendgrid.com) and O(api_url), for a proxy or a local server playing the EU host.
      - If not set (left out, V(null) or empty), the value of the environment variable E(SENDGRID_EU_API_URL) is
        used.
    type: str
  validate_certs:
    description:
      - Whether to verify the TLS certificate of the API host. Only set V(false) on a trusted test host.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of CA certificates to verify the API host with, for a TLS-inspecting proxy.
      - O(validate_certs) and O(ca_path) decide, also when the environment sets E(REQUESTS_CA_BUNDLE) or
        E(CURL_CA_BUNDLE); with neither given, those variables' bundle is used.
    type: path
  timeout:
    description:
      - Seconds to wait for each answer from the API before the request is retried or the task fails.
    type: float
    default: 30
  retries:
    description:
      - How many times to retry a request that was rate limited (HTTP 429), failed transiently (HTTP 500, 502, 503,
        504) or lost its connection.
      - A 429 is retried after the wait SendGrid asks for (C(Retry-After) or C(X-RateLimit-Reset)); the others after an
        exponential backoff with jitter. Each retry is reported as a warning.
      - A refused connection (nothing listens at the API URL, a server that is down) is retried once only, whatever
        this says, so that it fails within seconds.
    type: int
    default: 5
  retry_max_wait:
    description:
      - The longest total time, in seconds, to spend waiting between retries of one request.
    type: float
    default: 120
requirements:
  - requests >= 2.25
notes:
  - All options of this fragment can be set once for a play with C(module_defaults) and the action group
    C(group/mailops.sendgrid.sendgrid).
"""

    # The one-account option of the modules that manage a single account.
    ON_BEHALF_OF = r"""
options:
  on_behalf_of:
    description:
      - Act for a subuser or a customer account with the parent account's API key, sent as the C(on-behalf-of) header.
      - A subuser's username, or C(account-id <id>) for a customer account.
    type: str
"""

    # The modules a role runs: how their messages name the options.
    OPTION_NAMES = r"""
options:
  option_names:
    description:
      - How this module's messages name its options, a dictionary of option to name; an option left out is named as
        itself.
      - The roles pass their variables' names (C(timeout) is C(baseline_timeout), C(accounts) is
        C(baseline_subusers)), so that an error points at what the person wrote, such as
        C(baseline_subusers[0].tracking.click.enabled). Leave it out when you call the module yourself.
    type: dict
    version_added: 1.1.0
"""
