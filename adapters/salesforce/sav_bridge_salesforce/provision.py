"""`sav-bridge salesforce provision --print`: what the Salesforce admin sets up, step by step.

The gateway's integration user may not create fields, flows or apps, so provisioning changes nothing in
Salesforce: it prints the steps with the gateway's URL and the configured field names filled in. The
org's side ships as an SFDX project (`adapters/salesforce/metadata`, deployed with `sf project deploy
start`). The webhook secret and the private key are never printed: the admin pastes the secret from
where it is kept. The steps match the README's Salesforce section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO
from urllib.parse import urlsplit

from sav_bridge.config import reveal
from sav_bridge_salesforce.settings import DEFAULTS

HELPDESK = "salesforce"
SECRET_PLACEHOLDER = "<the value of salesforce.webhook_secret (SAV_BRIDGE_SALESFORCE__WEBHOOK_SECRET)>"
#: Where the SFDX project lives in the sav-bridge source, and the files an admin may have to touch.
METADATA_DIR = "adapters/salesforce/metadata"
WORKFLOW_FILE = "force-app/main/default/workflows/CaseComment.workflow-meta.xml"
#: The names the metadata gives; each one's configuration key.
PERMISSION_SET = "Sav_Bridge_Integration"
AGENT_PERMISSION_SET = "Sav_Bridge_Agent"
OUTBOUND_MESSAGE = "Sav_Bridge_Agent_Reply"
OUTBOUND_MESSAGE_LABEL = "sav-bridge agent reply"
#: The CaseComment fields each outbound message carries: what the gateway reads from a notification.
OUTBOUND_FIELDS = ("Id", "ParentId", "IsPublished", "CreatedById")
FLOW_LABEL = "sav-bridge: agent reply (outbound message)"
JSON_FLOW_LABEL = "sav-bridge: agent reply (JSON)"
APEX_CLASS = "SavBridgeNotify"
APEX_TEST = "SavBridgeNotifyTest"
REMOTE_SITE = "Sav_Bridge"
CUSTOM_SETTING_LABEL = "sav-bridge settings"
ORG_ALIAS = "sav-bridge"
CERTIFICATE = (
    "openssl req -x509 -newkey rsa:2048 -sha256 -days 730 -nodes "
    '-keyout sav-bridge.key -out sav-bridge.crt -subj "/CN=sav-bridge"'
)
#: The fields the metadata creates, as (configuration key, object, what the field must be).
FIELDS = (
    ("contact_external_id", "Contact", "Text(40), External ID, Unique (case sensitive)"),
    ("case_external_id", "Case", "Text(80), External ID, Unique (case sensitive)"),
    ("reply_by_dm_field", "Case", 'Checkbox, default unchecked, label "Reply by DM"'),
    ("tags_field", "Case", 'Text(255), label "sav-bridge tags" (care\'s tags, ";"-separated)'),
)


def steps(public_url: str, settings_section: Mapping[str, Any]) -> str:
    """The set-up, as numbered steps in Salesforce's interface, for this gateway and this configuration."""
    defaults = DEFAULTS

    def value(key: str, missing: str) -> str:
        found = settings_section.get(key, defaults.get(key))
        return reveal(found) if found not in (None, "") else missing

    base = public_url.rstrip("/")
    endpoint = f"{base}/webhooks/{HELPDESK}"
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    username = value("username", "<salesforce.username>")
    login_url = value("login_url", "https://login.salesforce.com").rstrip("/")
    fields = {key: value(key, str(defaults[key])) for key, _, _ in FIELDS}
    field_lines = "\n".join(f"   - {sobject}.{fields[key]}: {spec}" for key, sobject, spec in FIELDS)
    renamed = [key for key, _, _ in FIELDS if fields[key] != defaults[key]]
    rename_note = "".join(
        f"\n   ! salesforce.{key} is {fields[key]} but the metadata names it {defaults[key]}: before deploying,"
        f"\n     rename its file and <fullName>, and the field in both permission sets."
        for key in renamed
    )
    return f"""\
Salesforce: the gateway changes nothing in your org; an admin does these steps once (README, section Salesforce).
Org {value("organization_id", "<salesforce.organization_id>")}, sign-in {login_url}, REST API v{value("api_version", "66.0")}.

1. Integration user. Setup > Users > New User: User License "Salesforce Integration", Profile
   "Minimum Access - API Only Integrations", Username {username}. Save, then on the user:
   Permission Set License Assignments > Edit Assignments > Salesforce API Integration.

2. Metadata. In {METADATA_DIR} of the sav-bridge source, set <integrationUser> to {username}
   in {WORKFLOW_FILE}, then:
     sf org login web --instance-url {login_url} --alias {ORG_ALIAS}
     sf project deploy start --source-dir force-app --target-org {ORG_ALIAS} --test-level RunSpecifiedTests --tests {APEX_TEST}
     sf org assign permset --name {PERMISSION_SET} --on-behalf-of {username} --target-org {ORG_ALIAS}
   It creates these fields (the gateway uses the names configured here):
{field_lines}{rename_note}
   and the permission sets {PERMISSION_SET} (the gateway) and {AGENT_PERMISSION_SET} (agents), the outbound
   message, two flows, the Apex class {APEX_CLASS}, the custom setting "{CUSTOM_SETTING_LABEL}" and the
   Remote Site Setting {REMOTE_SITE}.
   Agents: assign them {AGENT_PERMISSION_SET} and add "Reply by DM" to the Case page layout (Object Manager > Case).

3. Certificate, on your machine (the key stays with the gateway, never in Salesforce):
     {CERTIFICATE}
   sav-bridge.key goes to salesforce.private_key_file (or its text to SAV_BRIDGE_SALESFORCE__PRIVATE_KEY).

4. External client app. Setup > External Client App Manager > New External Client App:
   - External Client App Name: sav-bridge; Distribution State: Local
   - API (Enable OAuth Settings): Enable OAuth; Callback URL: {base}/ (required, unused by the JWT flow);
     OAuth Scopes: Manage user data via APIs (api), Perform requests at any time (refresh_token, offline_access)
   - Flow Enablement: Enable JWT Bearer Flow, Upload Files: sav-bridge.crt
   Create. Then Policies > Edit: OAuth Policies > Permitted Users: Admin approved users are pre-authorized,
   and select the permission set {PERMISSION_SET}. Save.
   Settings > OAuth Settings > Consumer Key and Secret: the Consumer Key is salesforce.consumer_key
   (configured: {value("consumer_key", "not yet")}).

5. Outbound message URL (set here so the secret stays out of files). Setup > Outbound Messages >
   {OUTBOUND_MESSAGE_LABEL} > Edit:
     Endpoint URL:    {endpoint}?token={SECRET_PLACEHOLDER}
     User to send as: {username}
     Send Session ID: off
   Fields sent: {", ".join(OUTBOUND_FIELDS)} (keep them). Save.
   Setup > Flows > {FLOW_LABEL}: Activate (a production deploy leaves it inactive).

6. Or the JSON alternative (signed with HMAC-SHA256, but Salesforce does not retry it), instead of step 5:
   Setup > Custom Settings > {CUSTOM_SETTING_LABEL} > Manage > New (the org default):
     Endpoint URL:   {endpoint}
     Webhook Secret: {SECRET_PLACEHOLDER}
   Setup > Remote Site Settings > {REMOTE_SITE} > Edit: Remote Site URL {origin}
   Setup > Flows: deactivate {FLOW_LABEL}, activate {JSON_FLOW_LABEL}.

7. Check: sav-bridge check --online (it names the integration user; invalid_grant means step 1 or 4 is incomplete).

nothing was changed in Salesforce
"""


def provision(public_url: str, section: Mapping[str, Any], out: TextIO) -> None:
    out.write(steps(public_url, section))
