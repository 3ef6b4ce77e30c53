"""Name Microsoft's first-party permission GUIDs for messages; the IDs themselves live in exo_domain.microsoft.

The component never uses these IDs: it looks them up in the tenant at deploy time. The offline plan answers its
lookups with them, so the plan shows what `pulumi up` will send, and the policy rules use them to name the
permissions they see by GUID.
"""

from __future__ import annotations

from exo_domain.microsoft import API_DISPLAY_NAMES, APP_ROLES, PUBLISHED_APP_IDS, SCOPES

__all__ = ["API_DISPLAY_NAMES", "APP_ROLES", "PUBLISHED_APP_IDS", "SCOPES", "permission_name"]


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
