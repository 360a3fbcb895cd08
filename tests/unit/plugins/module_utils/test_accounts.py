# -*- coding: utf-8 -*-
# Copyright (c) mailops.sendgrid contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""for_each_account and Ctrl-C: while the accounts' threads run, SIGINT ends the module's process at once (its default
action), since Python's KeyboardInterrupt would stop the main thread only and leave the threads sending requests; the
handler before is given back after. The integration tests stop a real run (test_integration_progress.py)."""

from __future__ import annotations

import signal
import threading

from ansible_collections.mailops.sendgrid.plugins.module_utils._accounts import for_each_account


class Client:
    def account(self, on_behalf_of, region_advice=None):
        return on_behalf_of


def test_while_the_accounts_run_sigint_is_its_default_action_and_the_handler_before_is_given_back():
    seen = []

    def work(account, item):
        seen.append(signal.getsignal(signal.SIGINT))
        return dict(account=account)
    before = signal.getsignal(signal.SIGINT)
    outcomes = for_each_account(lambda base_url: Client(), [{"on_behalf_of": "a", "base_url": "u"},
                                                            {"on_behalf_of": "b", "base_url": "u"}], work, 2)
    assert [outcome["account"] for outcome in outcomes] == ["a", "b"]
    assert seen == [signal.SIG_DFL, signal.SIG_DFL]
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_the_handlers_are_left_alone():
    seen = []

    def run():
        seen.append(for_each_account(lambda base_url: Client(), [{"on_behalf_of": None, "base_url": "u"}],
                                     lambda account, item: dict(handler=signal.getsignal(signal.SIGINT)), 1))
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen[0][0]["handler"] is signal.getsignal(signal.SIGINT)
