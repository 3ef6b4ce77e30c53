"""Microsoft's first-party IDs, which are the same in every tenant (exchange-oauth-facts.md section 2).

The component never uses these: it looks the IDs up in the tenant at deploy time. The offline plan answers its
lookups with them, so the plan shows what `pulumi up` will send, and the policy rules use them to name the
permissions they see by GUID.
"""

from __future__ import annotations

PUBLISHED_APP_IDS = {
    "MicrosoftGraph": "00000003-0000-0000-c000-000000000000",
    "Office365ExchangeOnline": "00000002-0000-0ff1-ce00-000000000000",
}
"""Application (client) IDs of the first-party APIs, keyed as azuread's getApplicationPublishedAppIds keys them."""

API_DISPLAY_NAMES = {"MicrosoftGraph": "Microsoft Graph", "Office365ExchangeOnline": "Office 365 Exchange Online"}

APP_ROLES = {
    "Office365ExchangeOnline": {
        "IMAP.AccessAsApp": "5e5addcd-3e8d-4e90-baf5-964efab2b20a",
        "POP.AccessAsApp": "cb842b43-da6e-4506-86fe-bb12199c656d",
        "SMTP.SendAsApp": "7146a1f0-8703-45b3-9eae-527a64c00995",
        "Exchange.ManageAsApp": "dc50a0fb-09a3-484d-be87-e023b12c6440",
        "full_access_as_app": "dc890d15-9560-4a4c-9b7f-a736ec74ec40",
    },
    "MicrosoftGraph": {
        "Mail.Read": "810c84a8-4a9e-49e6-bf7d-12d183f40d01",
        "Mail.Send": "b633e1c5-b582-4048-a93e-9f11b44c7e96",
    },
}
"""App roles (application permissions) each API's service principal publishes, by value."""

SCOPES = {
    "MicrosoftGraph": {
        "IMAP.AccessAsUser.All": "652390e4-393a-48de-9484-05f9b1212954",
        "POP.AccessAsUser.All": "d7b7f2d9-0f45-4ea1-9d42-e50810c06991",
        "SMTP.Send": "258f6531-6087-4cc4-bb90-092c5fb3ed3f",
        "offline_access": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
        "openid": "37f7f235-527c-4136-accd-4a02d197296e",
        "profile": "14dad69e-099b-42c9-810b-d002981feec1",
        "User.Read": "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
        "Mail.Read": "570282fd-fa5c-430d-a7fd-fc8dc98a9dca",
        "Mail.Send": "e383f46e-2787-4529-855e-0e479a3ffac0",
    },
    "Office365ExchangeOnline": {
        "IMAP.AccessAsUser.All": "195adc35-e27b-454b-a7ed-1ecdffa1c09f",
        "POP.AccessAsUser.All": "fb698133-92fa-453e-a9ed-688e10f2e5ac",
        "SMTP.Send": "76faac2a-0f20-42f1-928a-50de5b9dbe52",
    },
}
"""Delegated permissions (OAuth2 permission scopes) each API's service principal publishes, by value."""


def permission_name(api_app_id: str, permission_id: str) -> str:
    """Name a permission GUID for messages, such as `Office 365 Exchange Online full_access_as_app`."""
    for api, app_id in PUBLISHED_APP_IDS.items():
        if app_id == api_app_id.lower():
            for table in (APP_ROLES, SCOPES):
                for name, value in table.get(api, {}).items():
                    if value == permission_id.lower():
                        return f"{API_DISPLAY_NAMES[api]} {name}"
            return f"{API_DISPLAY_NAMES[api]} permission {permission_id}"
    return f"permission {permission_id} of API {api_app_id}"
