"""Salesforce's set-up: the steps `provision --print` gives, and the SFDX project the admin deploys."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest
from defusedxml.ElementTree import parse
from sav_bridge_salesforce.provision import (
    APEX_CLASS,
    OUTBOUND_FIELDS,
    OUTBOUND_MESSAGE,
    PERMISSION_SET,
    SECRET_PLACEHOLDER,
    provision,
    steps,
)

from sav_bridge.config import Secret
from tests.adapters.test_salesforce_contract import APP_KEY

METADATA = Path(__file__).parents[2] / "adapters" / "salesforce" / "metadata"
SOURCE = METADATA / "force-app" / "main" / "default"
NS = {"md": "http://soap.sforce.com/2006/04/metadata"}
SECRET = "salesforce-webhook-secret-never-printed"
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nkey-never-printed\n-----END PRIVATE KEY-----\n"
SECTION = {
    "consumer_key": "3MVG9consumer-key-shown",
    "username": "sav-bridge@mabanque.fr",
    "organization_id": "00D5g000004ABCDEAA",
    "private_key": Secret(PRIVATE_KEY),
    "webhook_secret": Secret(SECRET),
}


def root(path: Path) -> Element:
    element: Element = parse(path).getroot()
    return element


def texts(element: Element, path: str) -> list[str]:
    return [(found.text or "").strip() for found in element.findall(path, NS)]


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


# -- the steps ------------------------------------------------------------------------------------


def test_the_steps_fill_in_the_url_and_keep_the_secret_as_a_placeholder() -> None:
    out = steps("https://sav.example.com/", SECTION)
    found = lines(out)
    endpoint = "https://sav.example.com/webhooks/salesforce"
    assert f"Endpoint URL:    {endpoint}?token={SECRET_PLACEHOLDER}" in found
    assert f"Endpoint URL:   {endpoint}" in found
    assert (
        "Setup > Remote Site Settings > Sav_Bridge > Edit: Remote Site URL https://sav.example.com" in found
    )
    assert SECRET not in out and "never-printed" not in out and "BEGIN PRIVATE KEY" not in out
    assert out.rstrip().endswith("nothing was changed in Salesforce")


def test_the_steps_name_the_integration_user_the_app_and_the_org() -> None:
    out = steps("https://sav.example.com", SECTION)
    found = lines(out)
    assert "User to send as: sav-bridge@mabanque.fr" in found
    assert (
        "sf org assign permset --name Sav_Bridge_Integration --on-behalf-of sav-bridge@mabanque.fr"
        " --target-org sav-bridge"
    ) in found
    assert "(configured: 3MVG9consumer-key-shown)." in found
    assert "Org 00D5g000004ABCDEAA, sign-in https://login.salesforce.com, REST API v66.0." in found
    assert (
        "Create. Then Policies > Edit: OAuth Policies > Permitted Users: Admin approved users are pre-authorized,"
        in found
    )
    assert "- Flow Enablement: Enable JWT Bearer Flow, Upload Files: sav-bridge.crt" in found
    assert re.search(
        r"openssl req -x509 -newkey rsa:2048 .*-keyout sav-bridge\.key -out sav-bridge\.crt", out
    )
    assert f"--test-level RunSpecifiedTests --tests {APEX_CLASS}Test" in out
    steps_in_order = [out.index(f"\n{n}. ") for n in range(1, 8)]
    assert steps_in_order == sorted(steps_in_order)


def test_renamed_fields_a_sandbox_and_a_newer_api_show_up() -> None:
    section = {
        **SECTION,
        "contact_external_id": "Twitter_User_Id__c",
        "case_external_id": "Gateway_Key__c",
        "reply_by_dm_field": "Answer_Privately__c",
        "api_version": "67.0",
        "login_url": "https://test.salesforce.com/",
    }
    out = steps("https://sav.example.com", section)
    found = lines(out)
    assert "- Contact.Twitter_User_Id__c: Text(40), External ID, Unique (case sensitive)" in found
    assert "- Case.Gateway_Key__c: Text(80), External ID, Unique (case sensitive)" in found
    assert '- Case.Answer_Privately__c: Checkbox, default unchecked, label "Reply by DM"' in found
    for key, shipped in (
        ("contact_external_id", "X_User_Id__c"),
        ("case_external_id", "Sav_Bridge_Key__c"),
        ("reply_by_dm_field", "Sav_Bridge_Reply_By_DM__c"),
    ):
        assert any(line.startswith(f"! salesforce.{key} is ") and shipped in line for line in found)
    assert "sf org login web --instance-url https://test.salesforce.com --alias sav-bridge" in found
    assert "REST API v67.0." in out and "Contact.X_User_Id__c" not in out


def test_the_default_fields_need_no_renaming() -> None:
    out = steps("https://sav.example.com", SECTION)
    assert "- Contact.X_User_Id__c: Text(40), External ID, Unique (case sensitive)" in lines(out)
    assert "! salesforce." not in out


def test_an_unconfigured_section_still_prints_placeholders() -> None:
    out = steps("https://sav.example.com", {})
    assert "Username <salesforce.username>." in out and "(configured: not yet)." in out


def test_provision_writes_the_steps() -> None:
    out = io.StringIO()
    provision("https://sav.example.com", SECTION, out)
    assert out.getvalue() == steps("https://sav.example.com", SECTION)


# -- the SFDX project ------------------------------------------------------------------------------

XML_FILES = sorted(SOURCE.rglob("*.xml"))


def test_the_project_deploys_force_app() -> None:
    project = json.loads((METADATA / "sfdx-project.json").read_text("utf-8"))
    assert project["packageDirectories"] == [{"path": "force-app", "default": True}]
    assert re.fullmatch(r"\d{2}\.0", project["sourceApiVersion"])
    assert {str(path.relative_to(SOURCE)) for path in XML_FILES} >= {
        "objects/Contact/fields/X_User_Id__c.field-meta.xml",
        "objects/Case/fields/Sav_Bridge_Key__c.field-meta.xml",
        "objects/Case/fields/Sav_Bridge_Reply_By_DM__c.field-meta.xml",
        "permissionsets/Sav_Bridge_Integration.permissionset-meta.xml",
        "workflows/CaseComment.workflow-meta.xml",
        "flows/Sav_Bridge_Agent_Reply.flow-meta.xml",
        "flows/Sav_Bridge_Agent_Reply_Json.flow-meta.xml",
        "classes/SavBridgeNotify.cls-meta.xml",
        "classes/SavBridgeNotifyTest.cls-meta.xml",
        "remoteSiteSettings/Sav_Bridge.remoteSite-meta.xml",
    }


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: str(p.relative_to(SOURCE)))
def test_every_metadata_file_is_well_formed_in_the_metadata_namespace(path: Path) -> None:
    element = root(path)
    assert element.tag.startswith("{http://soap.sforce.com/2006/04/metadata}")
    name = path.name.split(".")[0]
    full_name = element.find("md:fullName", NS)
    if full_name is not None:
        assert full_name.text == name


@pytest.mark.parametrize(
    ("path", "length"),
    [("Contact/fields/X_User_Id__c", "40"), ("Case/fields/Sav_Bridge_Key__c", "80")],
)
def test_the_external_ids_are_unique_case_sensitive_text(path: str, length: str) -> None:
    field = root(SOURCE / "objects" / f"{path}.field-meta.xml")
    assert texts(field, "md:type") == ["Text"] and texts(field, "md:length") == [length]
    for flag in ("externalId", "unique", "caseSensitive"):
        assert texts(field, f"md:{flag}") == ["true"], flag


def test_reply_by_dm_is_an_unticked_checkbox() -> None:
    field = root(SOURCE / "objects" / "Case" / "fields" / "Sav_Bridge_Reply_By_DM__c.field-meta.xml")
    assert texts(field, "md:type") == ["Checkbox"]
    assert texts(field, "md:defaultValue") == ["false"] and texts(field, "md:label") == ["Reply by DM"]


def test_the_integration_permission_set_covers_every_shipped_field_and_the_api() -> None:
    permissions = root(SOURCE / "permissionsets" / f"{PERMISSION_SET}.permissionset-meta.xml")
    assert "ApiEnabled" in texts(permissions, "md:userPermissions/md:name")
    shipped = {
        f"{path.parts[-3]}.{path.name.split('.')[0]}"
        for sobject in ("Case", "Contact")
        for path in (SOURCE / "objects" / sobject / "fields").glob("*.field-meta.xml")
    }
    granted = {
        texts(grant, "md:field")[0]: texts(grant, "md:editable")[0]
        for grant in permissions.findall("md:fieldPermissions", NS)
    }
    assert set(granted) == shipped
    assert granted["Case.Sav_Bridge_Key__c"] == granted["Contact.X_User_Id__c"] == "true"
    objects = {
        texts(grant, "md:object")[0]: grant for grant in permissions.findall("md:objectPermissions", NS)
    }
    assert set(objects) == {"Case", "Contact"}
    for grant in objects.values():
        assert (
            texts(grant, "md:allowRead")
            == texts(grant, "md:allowCreate")
            == texts(grant, "md:allowEdit")
            == ["true"]
        )
        assert texts(grant, "md:allowDelete") == ["false"]


def test_agents_may_tick_reply_by_dm() -> None:
    permissions = root(SOURCE / "permissionsets" / "Sav_Bridge_Agent.permissionset-meta.xml")
    grants = {texts(grant, "md:field")[0]: grant for grant in permissions.findall("md:fieldPermissions", NS)}
    assert texts(grants["Case.Sav_Bridge_Reply_By_DM__c"], "md:editable") == ["true"]


def test_the_outbound_message_sends_what_the_plugin_reads_and_no_session() -> None:
    workflow = root(SOURCE / "workflows" / "CaseComment.workflow-meta.xml")
    (message,) = workflow.findall("md:outboundMessages", NS)
    assert texts(message, "md:fullName") == [OUTBOUND_MESSAGE]
    assert set(texts(message, "md:fields")) == set(OUTBOUND_FIELDS)
    assert texts(message, "md:includeSessionId") == ["false"]
    assert texts(message, "md:endpointUrl") == [
        "https://YOUR-HOST/webhooks/salesforce?token=YOUR-WEBHOOK-SECRET"
    ]
    assert texts(message, "md:integrationUser") and workflow.find("md:rules", NS) is None


def flow(name: str) -> tuple[Element, Element, Element]:
    element = root(SOURCE / "flows" / f"{name}.flow-meta.xml")
    start = element.find("md:start", NS)
    (action,) = element.findall("md:actionCalls", NS)
    assert start is not None
    assert texts(start, "md:connector/md:targetReference") == texts(action, "md:name")
    return element, start, action


@pytest.mark.parametrize("name", ["Sav_Bridge_Agent_Reply", "Sav_Bridge_Agent_Reply_Json"])
def test_both_flows_fire_after_save_only_for_published_comments(name: str) -> None:
    _, start, _ = flow(name)
    assert texts(start, "md:object") == ["CaseComment"]
    assert texts(start, "md:triggerType") == ["RecordAfterSave"]
    assert texts(start, "md:recordTriggerType") == ["CreateAndUpdate"]
    assert texts(start, "md:doesRequireRecordChangedToMeetCriteria") == ["true"]
    (condition,) = start.findall("md:filters", NS)
    assert texts(condition, "md:field") == ["IsPublished"] and texts(condition, "md:operator") == ["EqualTo"]
    assert texts(condition, "md:value/md:booleanValue") == ["true"]


def test_the_outbound_message_flow_is_active_and_sends_the_message() -> None:
    element, _, action = flow("Sav_Bridge_Agent_Reply")
    assert texts(element, "md:status") == ["Active"]
    assert texts(action, "md:actionType") == ["outboundMessage"]
    assert texts(action, "md:actionName") == [f"CaseComment.{OUTBOUND_MESSAGE}"]


def test_the_json_flow_is_inactive_and_feeds_the_apex_action_its_inputs() -> None:
    element, _, action = flow("Sav_Bridge_Agent_Reply_Json")
    assert texts(element, "md:status") == ["Draft"]
    assert texts(action, "md:actionType") == ["apex"] and texts(action, "md:actionName") == [APEX_CLASS]
    inputs = {
        texts(given, "md:name")[0]: texts(given, "md:value/md:elementReference")[0]
        for given in action.findall("md:inputParameters", NS)
    }
    assert inputs == {"caseId": "$Record.ParentId", "commentId": "$Record.Id"}
    apex = (SOURCE / "classes" / f"{APEX_CLASS}.cls").read_text("utf-8")
    for variable in inputs:
        assert re.search(rf"@InvocableVariable\((?:[^)']|'[^']*')*\)\s+public Id {variable};", apex), variable


def test_the_apex_class_signs_with_the_two_headers_and_keeps_no_secret() -> None:
    apex = (SOURCE / "classes" / f"{APEX_CLASS}.cls").read_text("utf-8")
    assert "'X-Sav-Bridge-Timestamp'" in apex and "'X-Sav-Bridge-Signature'" in apex
    assert (
        "Crypto.generateMac('hmacSHA256', Blob.valueOf(timestamp + '.' + payload), Blob.valueOf(secret))"
        in apex
    )
    assert "'sha256=' + EncodingUtil.convertToHex(mac)" in apex
    assert "'case_id'" in apex and "'comment_id'" in apex
    assert "Sav_Bridge_Settings__c.getOrgDefaults()" in apex and "Database.AllowsCallouts" in apex
    assert "https://" not in apex
    test = (SOURCE / "classes" / f"{APEX_CLASS}Test.cls").read_text("utf-8")
    assert test.lstrip().startswith("/**") and "@IsTest\nprivate class SavBridgeNotifyTest" in test
    for name in (APEX_CLASS, f"{APEX_CLASS}Test"):
        meta = root(SOURCE / "classes" / f"{name}.cls-meta.xml")
        assert texts(meta, "md:status") == ["Active"]


def test_the_custom_setting_holding_the_secret_is_protected() -> None:
    setting = root(SOURCE / "objects" / "Sav_Bridge_Settings__c" / "Sav_Bridge_Settings__c.object-meta.xml")
    assert texts(setting, "md:customSettingsType") == ["Hierarchy"]
    assert texts(setting, "md:visibility") == ["Protected"]
    fields = {
        path.name.split(".")[0]
        for path in (SOURCE / "objects" / "Sav_Bridge_Settings__c" / "fields").iterdir()
    }
    assert fields == {"Endpoint_URL__c", "Webhook_Secret__c"}


def test_placeholders_are_the_only_hosts_and_secrets_in_the_metadata() -> None:
    for path in METADATA.rglob("*"):
        if path.is_file():
            text = path.read_text("utf-8")
            for url in re.findall(r"https://[^\s<\"']+", text):
                assert url.startswith(
                    ("https://YOUR-HOST", "https://login.salesforce.com", "https://sav.example.com")
                ), (
                    path,
                    url,
                )
            assert "token=" not in text.replace("token=YOUR-WEBHOOK-SECRET", ""), path


# -- from the command line ----------------------------------------------------------------------------
async def test_demo_plays_the_whole_story_on_salesforce(
    vendor_dir: Path | None, capsys: pytest.CaptureFixture[str]
) -> None:
    from sav_bridge.demo import run_demo

    assert await run_demo(vendor_dir, "salesforce") == 0
    out = capsys.readouterr().out
    assert "Salesforce case 00001001" in out and "contact Claire Dupont (X user 2100000000000000001)" in out
    assert out.count("Salesforce rings POST /webhooks/salesforce  ← 200") == 6 and "Zendesk" not in out
    assert "demo-outbound-token" not in out, "the outbound message's token is printed"
    assert "^AJ»" in out and " 1/2 ^AJ»" in out and "⛔ Not posted on X." in out and "0 violation(s)" in out


@pytest.mark.parametrize("flag", ["--print", "--dry-run"])
def test_provision_from_the_command_line_prints_the_steps_and_no_secret(
    flag: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from sav_bridge.cli import main

    key = tmp_path / "app.pem"
    key.write_text(APP_KEY)
    for name, value in {
        "SAV_BRIDGE_HELPDESK": "salesforce",
        "SAV_BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "SAV_BRIDGE_SALESFORCE__CONSUMER_KEY": "3MVG9-provision",
        "SAV_BRIDGE_SALESFORCE__USERNAME": "sav-bridge@mabanque.fr",
        "SAV_BRIDGE_SALESFORCE__PRIVATE_KEY_FILE": str(key),
        "SAV_BRIDGE_SALESFORCE__ORGANIZATION_ID": "00D5g000004ABCDEAA",
        "SAV_BRIDGE_SALESFORCE__WEBHOOK_SECRET": "salesforce-secret-never-printed",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["salesforce", "provision", "--public-url", "https://sav.example.com/", flag]) == 0
    out = capsys.readouterr().out
    assert "https://sav.example.com/webhooks/salesforce?token=" in out and "sav-bridge@mabanque.fr" in out
    assert "salesforce-secret-never-printed" not in out and "PRIVATE KEY" not in out
    assert out.rstrip().endswith("nothing was changed in Salesforce")


def test_a_missing_key_is_one_configuration_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from sav_bridge.cli import main

    for name, value in {
        "SAV_BRIDGE_HELPDESK": "salesforce",
        "SAV_BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "SAV_BRIDGE_SALESFORCE__CONSUMER_KEY": "3MVG9-provision",
        "SAV_BRIDGE_SALESFORCE__USERNAME": "sav-bridge@mabanque.fr",
        "SAV_BRIDGE_SALESFORCE__ORGANIZATION_ID": "00D5g000004ABCDEAA",
        "SAV_BRIDGE_SALESFORCE__WEBHOOK_SECRET": "salesforce-secret-never-printed",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["salesforce", "provision", "--public-url", "https://sav.example.com/", "--print"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sav-bridge: config: salesforce.private_key: is required") and "\n" not in err
