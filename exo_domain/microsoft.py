"""Microsoft's facts, in one place: per protocol, per cloud, first-party IDs and resource type tokens.

Pure data: no Pulumi, no I/O. Every other module reads these tables instead of restating them. Sources of each
host are in docs/decisions/0034-microsoft-facts-per-cloud.md; the permission IDs in docs/decisions/0030 and
exchange-oauth-facts.md section 2 (the component never sends them: it looks them up in the tenant).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Protocol:
    """One mail protocol and what Exchange Online needs for OAuth on it."""

    name: str
    """The config value: `imap`, `pop` or `smtp`."""
    label: str
    """How people write it: IMAP, POP, SMTP."""
    app_role: str
    """App-only: Office 365 Exchange Online's application permission (app role)."""
    delegated_scope: str
    """Delegated: Office 365 Exchange Online's delegated permission (scope)."""
    port: int
    """The client port of Exchange Online's endpoint."""
    security: str
    """`tls` from the first byte, or `starttls` before AUTH."""
    cas_switch: str
    """The Set-CASMailbox parameter that turns the protocol on or off for one mailbox."""
    cas_enabled_value: bool
    """The value of `cas_switch` that turns the protocol on (SmtpClientAuthenticationDisabled is on when false)."""
    cas_label: str
    """What `cas_switch` turns on, for messages: IMAP, POP, SMTP AUTH."""


PROTOCOLS = (
    Protocol("imap", "IMAP", "IMAP.AccessAsApp", "IMAP.AccessAsUser.All", 993, "tls", "ImapEnabled", True, "IMAP"),
    Protocol("pop", "POP", "POP.AccessAsApp", "POP.AccessAsUser.All", 995, "tls", "PopEnabled", True, "POP"),
    Protocol("smtp", "SMTP", "SMTP.SendAsApp", "SMTP.Send", 587, "starttls", "SmtpClientAuthenticationDisabled", False,
             "SMTP AUTH"),
)
"""In canonical order imap, pop, smtp."""
PROTOCOLS_BY_NAME = {p.name: p for p in PROTOCOLS}
FLOWS = ("app-only", "delegated")
"""How a client gets its token for Exchange Online: client credentials (the app's own role) or a signed-in user."""


@dataclass(frozen=True)
class Cloud:
    """One Microsoft cloud: where to sign in, what to ask for, where the mail servers are, and how tools name it."""

    name: str
    """The `exo-oauth:cloud` and `--cloud` value."""
    login_host: str
    """The Entra ID authority host, as an https URL."""
    graph_host: str
    """Microsoft Graph, as an https URL."""
    exchange_resource: str
    """Exchange Online's resource for app-only tokens (`<resource>/.default`)."""
    delegated_resource: str
    """The resource delegated mail scopes are prefixed with (`<resource>/IMAP.AccessAsUser.All`)."""
    imap_pop_host: str
    """The IMAP and POP host."""
    smtp_host: str
    """The SMTP submission host."""
    exchange_environment_name: str
    """ExchangeOnlineManagement's `Connect-ExchangeOnline -ExchangeEnvironmentName`."""
    azuread_environments: tuple[str, ...]
    """The values of the azuread provider's `environment` (`azuread:environment`) that mean this cloud, canonical
    first; the provider's default (no value) means the global cloud."""
    initial_domain_suffix: str
    """The suffix of a tenant's initial domain (`contoso.onmicrosoft.com`)."""
    extra_audiences: tuple[str, ...] = ()
    """Other `aud` values Exchange Online tokens of this cloud are known to carry."""

    def mail_host(self, protocol: str) -> str:
        """Return the host of `protocol` (imap, pop or smtp) in this cloud."""
        return self.smtp_host if protocol == "smtp" else self.imap_pop_host


CLOUDS = {
    "global": Cloud("global", "https://login.microsoftonline.com", "https://graph.microsoft.com",
                    "https://outlook.office365.com", "https://outlook.office.com", "outlook.office365.com",
                    "smtp.office365.com", "O365Default", ("global", "public"), "onmicrosoft.com",
                    extra_audiences=("https://ps.outlook.com",)),
    "usgov": Cloud("usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us",
                   "https://outlook.office365.us", "https://outlook.office365.us", "outlook.office365.us",
                   "outlook.office365.us", "O365USGovGCCHigh", ("usgovernmentl4", "usgovernment"), "onmicrosoft.us"),
    "usgov-dod": Cloud("usgov-dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us",
                       "https://outlook-dod.office365.us", "https://outlook-dod.office365.us",
                       "outlook-dod.office365.us", "outlook-dod.office365.us", "O365USGovDoD",
                       ("usgovernmentl5", "dod"), "onmicrosoft.us"),
    "china": Cloud("china", "https://login.partner.microsoftonline.cn", "https://microsoftgraph.chinacloudapi.cn",
                   "https://partner.outlook.cn", "https://partner.outlook.cn", "partner.outlook.cn",
                   "smtp.partner.outlook.cn", "O365China", ("china",), "partner.onmschina.cn"),
}
"""The clouds `exo-oauth:cloud` and `--cloud` accept."""
DEFAULT_CLOUD = "global"

SINGLE_TENANT = "AzureADMyOrg"
"""The sign-in audience of an app registration that only its own tenant's accounts can use."""

MICROSOFT_GRAPH = "MicrosoftGraph"
"""Key of Microsoft Graph in azuread's `get_application_published_app_ids` result."""
EXCHANGE_ONLINE = "Office365ExchangeOnline"
"""Key of Office 365 Exchange Online in that result."""

PUBLISHED_APP_IDS = {
    MICROSOFT_GRAPH: "00000003-0000-0000-c000-000000000000",
    EXCHANGE_ONLINE: "00000002-0000-0ff1-ce00-000000000000",
}
"""Application (client) IDs of the first-party APIs, the same in every tenant."""
API_DISPLAY_NAMES = {MICROSOFT_GRAPH: "Microsoft Graph", EXCHANGE_ONLINE: "Office 365 Exchange Online"}

APP_ROLES = {
    EXCHANGE_ONLINE: {
        "IMAP.AccessAsApp": "5e5addcd-3e8d-4e90-baf5-964efab2b20a",
        "POP.AccessAsApp": "cb842b43-da6e-4506-86fe-bb12199c656d",
        "SMTP.SendAsApp": "7146a1f0-8703-45b3-9eae-527a64c00995",
        "Exchange.ManageAsApp": "dc50a0fb-09a3-484d-be87-e023b12c6440",
        "full_access_as_app": "dc890d15-9560-4a4c-9b7f-a736ec74ec40",
    },
    MICROSOFT_GRAPH: {
        "Mail.Read": "810c84a8-4a9e-49e6-bf7d-12d183f40d01",
        "Mail.Send": "b633e1c5-b582-4048-a93e-9f11b44c7e96",
    },
}
"""App roles (application permissions) each API's service principal publishes, by value."""

SCOPES = {
    MICROSOFT_GRAPH: {
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
    EXCHANGE_ONLINE: {
        "IMAP.AccessAsUser.All": "195adc35-e27b-454b-a7ed-1ecdffa1c09f",
        "POP.AccessAsUser.All": "fb698133-92fa-453e-a9ed-688e10f2e5ac",
        "SMTP.Send": "76faac2a-0f20-42f1-928a-50de5b9dbe52",
    },
}
"""Delegated permissions (OAuth2 permission scopes) each API's service principal publishes, by value."""

TYPE_TOKENS = {
    "application": "azuread:index/application:Application",
    "applicationRegistration": "azuread:index/applicationRegistration:ApplicationRegistration",
    "applicationApiAccess": "azuread:index/applicationApiAccess:ApplicationApiAccess",
    "applicationRedirectUris": "azuread:index/applicationRedirectUris:ApplicationRedirectUris",
    "servicePrincipal": "azuread:index/servicePrincipal:ServicePrincipal",
    "appRoleAssignment": "azuread:index/appRoleAssignment:AppRoleAssignment",
    "grant": "azuread:index/servicePrincipalDelegatedPermissionGrant:ServicePrincipalDelegatedPermissionGrant",
    "password": "azuread:index/applicationPassword:ApplicationPassword",
    "certificate": "azuread:index/applicationCertificate:ApplicationCertificate",
    "federated": "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential",
    "rotating": "time:index/rotating:Rotating",
    "static": "time:index/static:Static",
    "mailOAuthApp": "exo-oauth:index:MailOAuthApp",
    "publishedAppIds": "azuread:index/getApplicationPublishedAppIds:getApplicationPublishedAppIds",
    "getServicePrincipal": "azuread:index/getServicePrincipal:getServicePrincipal",
}
"""Pulumi type tokens of the resources and look-ups exo-oauth declares or judges."""
