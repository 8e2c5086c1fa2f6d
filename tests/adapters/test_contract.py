"""Every installed helpdesk plugin runs the core's contract suite (`sav_bridge.testing.contract`)."""

from __future__ import annotations

import importlib

import pytest

from sav_bridge.testing.contract import CHECKS, HelpdeskContract, installed_plugins

#: Each installed plugin's contract test, as `module:class`; a new plugin adds its line and its declaration.
CONTRACT_TESTS = {
    "zendesk": "tests.adapters.test_zendesk_contract:TestZendeskContract",
    "freshdesk": "tests.adapters.test_freshdesk_contract:TestFreshdeskContract",
    "salesforce": "tests.adapters.test_salesforce_contract:TestSalesforceContract",
}


@pytest.mark.parametrize("plugin", installed_plugins())
def test_every_installed_plugin_runs_the_contract(plugin: str) -> None:
    if plugin not in CONTRACT_TESTS:
        pytest.fail(f"plugin {plugin!r} is installed but declares no contract test in CONTRACT_TESTS")
    module, _, name = CONTRACT_TESTS[plugin].partition(":")
    test = getattr(importlib.import_module(module), name)
    assert issubclass(test, HelpdeskContract) and test.declaration.plugin == plugin


def test_the_contract_covers_what_the_helpdesk_protocol_promises() -> None:
    assert sorted(CHECKS) == [
        "care_calls_are_retryable_on_limits_and_outages",
        "customer_message_is_idempotent",
        "customer_message_reopens_a_solved_ticket",
        "each_reply_rings_a_delivery_of_its_own",
        "every_agent_reply_is_listed_across_pages",
        "history_lists_the_requesters_earlier_tickets",
        "internal_note_is_idempotent",
        "internal_note_is_private",
        "missing_and_invalid_are_permanent",
        "only_public_agent_replies_are_listed",
        "open_ticket_is_idempotent",
        "priority_is_raised_never_lowered",
        "rate_limits_and_outages_are_retryable",
        "refused_credentials_are_permanent",
        "routing_maps_logical_names_and_skips_unknown_ones",
        "update_adds_tags_to_the_tickets_own",
        "update_repeated_after_a_lost_answer_changes_nothing_more",
        "webhook_is_verified_offline",
    ]
