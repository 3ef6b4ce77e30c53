"""The parameters Microsoft documents for each Exchange Online cmdlet the scripts call.

They are the contract the module is tested against (tests/test_exchange_cmdlet_contract.py), not a belief restated
from the renderer. Source: MicrosoftDocs/office-docs-powershell at commit 93336da2bca96c31c0fc8acc52658a30ef8a6c94
(2026-08-21), `exchange/exchange-ps/ExchangePowerShell/<Cmdlet>.md`
(= https://learn.microsoft.com/powershell/module/exchangepowershell/<cmdlet>): every `### -<Parameter>` of the
PARAMETERS section whose `> Applicable:` line names Exchange Online. Regenerate by reading those files at a newer
commit.
"""

DOCUMENTED: dict[str, frozenset[str]] = {
    "Add-MailboxPermission": frozenset({
        "AccessRights", "AutoMapping", "Confirm", "Deny", "GroupMailbox", "Identity", "IgnoreDefaultScope",
        "InheritanceType", "Owner", "User", "WhatIf"
    }),
    "Add-RecipientPermission": frozenset({"AccessRights", "Confirm", "Identity", "Trustee", "WhatIf"}),
    "Connect-ExchangeOnline": frozenset({
        "AccessToken", "AppId", "AzureADAuthorizationEndpointUri", "BypassMailboxAnchoring", "Certificate",
        "CertificateFilePath", "CertificatePassword", "CertificateThumbprint", "CommandName", "ConnectionUri",
        "Credential", "DelegatedOrganization", "Device", "DisableWAM", "EXOModuleBasePath", "EnableErrorReporting",
        "ExchangeEnvironmentName", "FormatTypeName", "InlineCredential", "LoadCmdletHelp", "LogDirectoryPath",
        "LogLevel", "ManagedIdentity", "ManagedIdentityAccountId", "Organization", "PSSessionOption", "PageSize",
        "Prefix", "ShowBanner", "ShowProgress", "SigningCertificate", "SkipLoadingCmdletHelp",
        "SkipLoadingFormatData", "TrackPerformance", "UseMultithreading", "UseRPSSession", "UserPrincipalName"
    }),
    "Disconnect-ExchangeOnline": frozenset({"Confirm", "ConnectionId", "ModulePrefix", "WhatIf"}),
    "Get-CASMailbox": frozenset({
        "ActiveSyncDebugLogging", "ActiveSyncSuppressReadReceipt", "Anr", "Credential", "Filter", "Identity",
        "IgnoreDefaultScope", "OrganizationalUnit", "ProtocolSettings", "ReadIsOptimizedForAccessibility",
        "RecalculateHasActiveSyncDevicePartnership", "RecipientTypeDetails", "ResultSize", "SortBy"
    }),
    "Get-CASMailboxPlan": frozenset({"Credential", "Filter", "Identity", "IgnoreDefaultScope", "ResultSize", "SortBy"}),
    "Get-ConnectionInformation": frozenset({"ConnectionId", "ModulePrefix"}),
    "Get-DistributionGroupMember": frozenset({"Credential", "Identity", "IncludeSoftDeletedObjects", "ResultSize"}),
    "Get-Mailbox": frozenset({
        "Anr", "Archive", "Filter", "GroupMailbox", "Identity", "InactiveMailboxOnly",
        "IncludeAcceptMessagesOnlyFromDLMembersWithDisplayNames",
        "IncludeAcceptMessagesOnlyFromSendersOrMembersWithDisplayNames",
        "IncludeAcceptMessagesOnlyFromWithDisplayNames", "IncludeEmailAddressDisplayNames",
        "IncludeForwardingAddressWithDisplayNames", "IncludeGrantSendOnBehalfToWithDisplayNames",
        "IncludeInactiveMailbox", "MailboxPlan", "Migration", "OrganizationalUnit", "PublicFolder",
        "RecipientTypeDetails", "ResultSize", "SoftDeletedMailbox", "SortBy"
    }),
    "Get-MailboxPermission": frozenset({
        "Credential", "GroupMailbox", "Identity", "IncludeSoftDeletedUserPermissions", "IncludeUnresolvedPermissions",
        "IncludeUserWithDisplayName", "Owner", "ReadFromDomainController", "ResultSize", "SoftDeletedMailbox",
        "UseCustomRouting", "User"
    }),
    "Get-EXOMailbox": frozenset({
        "Anr", "Archive", "Async", "ExternalDirectoryObjectId", "Filter", "GroupMailbox", "Identity",
        "InactiveMailboxOnly", "IncludeInactiveMailbox", "MailboxPlan", "Migration", "OrganizationalUnit",
        "PrimarySmtpAddress", "Properties", "PropertySets", "PublicFolder", "RecipientTypeDetails", "ResultSize",
        "SoftDeletedMailbox", "UserPrincipalName"
    }),
    "Get-EXOMailboxPermission": frozenset({
        "ExternalDirectoryObjectId", "Identity", "Owner", "PrimarySmtpAddress", "ResultSize", "SoftDeletedMailbox",
        "User", "UserPrincipalName"
    }),
    "Get-ManagementRoleAssignment": frozenset({
        "AssignmentMethod", "ConfigWriteScope", "CustomRecipientWriteScope", "Delegating", "Enabled", "Exclusive",
        "ExclusiveRecipientWriteScope", "GetEffectiveUsers", "Identity", "RecipientAdministrativeUnitScope",
        "RecipientGroupScope", "RecipientOrganizationalUnitScope", "RecipientWriteScope", "Role", "RoleAssignee",
        "RoleAssigneeType", "WritableRecipient"
    }),
    "Get-ManagementScope": frozenset({"Exclusive", "Identity", "Orphan"}),
    "Get-Recipient": frozenset({
        "Anr", "AuthenticationType", "BookmarkDisplayName", "Capabilities", "Filter", "Identity",
        "IncludeBookmarkObject", "IncludeManagerWithDisplayName", "IncludeSoftDeletedRecipients",
        "OrganizationalUnit", "Properties", "PropertySet", "RecipientPreviewFilter", "RecipientType",
        "RecipientTypeDetails", "ResultSize", "SortBy"
    }),
    "Get-RecipientPermission": frozenset({
        "AccessRights", "Identity", "IncludeTrusteeWithPrimarySmtpAddress", "ReadFromDomainController", "ResultSize",
        "Trustee"
    }),
    "Get-ServicePrincipal": frozenset({"Identity", "Organization"}),
    "Get-TransportConfig": frozenset(),
    "New-ManagementRoleAssignment": frozenset({
        "App", "Confirm", "CustomRecipientWriteScope", "CustomResourceScope", "Delegating",
        "ExclusiveRecipientWriteScope", "Force", "Name", "Policy", "RecipientAdministrativeUnitScope",
        "RecipientGroupScope", "RecipientOrganizationalUnitScope", "RecipientRelativeWriteScope", "Role",
        "SecurityGroup", "User", "WhatIf"
    }),
    "New-ManagementScope": frozenset({
        "Confirm", "Exclusive", "Force", "Name", "RecipientRestrictionFilter", "RecipientRoot", "WhatIf"
    }),
    "New-ServicePrincipal": frozenset({"AppId", "Confirm", "DisplayName", "ObjectId", "ServiceId", "WhatIf"}),
    "Remove-MailboxPermission": frozenset({
        "AccessRights", "BypassMasterAccountSid", "ClearAutoMapping", "Confirm", "Deny", "GroupMailbox", "Identity",
        "IgnoreDefaultScope", "InheritanceType", "ResetDefault", "SoftDeletedMailbox", "User", "WhatIf"
    }),
    "Remove-ManagementRoleAssignment": frozenset({"Confirm", "Force", "Identity", "WhatIf"}),
    "Remove-ManagementScope": frozenset({"Confirm", "Force", "Identity", "WhatIf"}),
    "Remove-RecipientPermission": frozenset({
        "AccessRights", "Confirm", "Deny", "Identity", "MultiTrustees", "SkipDomainValidationForMailContact",
        "SkipDomainValidationForMailUser", "SkipDomainValidationForSharedMailbox", "Trustee", "WhatIf"
    }),
    "Remove-ServicePrincipal": frozenset({"Confirm", "Identity", "WhatIf"}),
    "Set-CASMailbox": frozenset({
        "ActiveSyncAllowedDeviceIDs", "ActiveSyncBlockedDeviceIDs", "ActiveSyncDebugLogging", "ActiveSyncEnabled",
        "ActiveSyncMailboxPolicy", "ActiveSyncSuppressReadReceipt", "Confirm", "EwsAllowEntourage", "EwsAllowList",
        "EwsAllowMacOutlook", "EwsAllowOutlook", "EwsApplicationAccessPolicy", "EwsBlockList", "EwsEnabled",
        "Identity", "ImapEnabled", "ImapForceICalForCalendarRetrievalOption", "ImapMessagesRetrievalMimeFormat",
        "ImapSuppressReadReceipt", "ImapUseProtocolDefaults", "IsOptimizedForAccessibility", "MAPIEnabled",
        "MacOutlookEnabled", "OWAEnabled", "OWAforDevicesEnabled", "OneWinNativeOutlookEnabled",
        "OutlookMobileEnabled", "OwaMailboxPolicy", "PopEnabled", "PopForceICalForCalendarRetrievalOption",
        "PopMessagesRetrievalMimeFormat", "PopSuppressReadReceipt", "PopUseProtocolDefaults",
        "PublicFolderClientAccess", "ShowGalAsDefaultView", "SmtpClientAuthenticationDisabled",
        "UniversalOutlookEnabled", "WhatIf"
    }),
    "Set-ManagementScope": frozenset({
        "Confirm", "Force", "Identity", "Name", "RecipientRestrictionFilter", "RecipientRoot", "WhatIf"
    }),
    "Set-ServicePrincipal": frozenset({
        "Confirm", "DisplayName", "Identity", "OverrideEnforceExoAppRbacPermissions", "WhatIf"
    }),
    "Set-TransportConfig": frozenset({
        "AddressBookPolicyRoutingEnabled", "AllowLegacyTLSClients", "ClearCategories", "Confirm",
        "ConvertDisclaimerWrapperToEml", "DSNConversionMode", "ExternalDelayDsnEnabled", "ExternalDsnDefaultLanguage",
        "ExternalDsnLanguageDetectionEnabled", "ExternalDsnReportingAuthority", "ExternalDsnSendHtml",
        "ExternalPostmasterAddress", "Force", "HeaderPromotionModeSetting", "InternalDelayDsnEnabled",
        "InternalDsnDefaultLanguage", "InternalDsnLanguageDetectionEnabled", "InternalDsnReportingAuthority",
        "InternalDsnSendHtml", "JournalMessageExpirationDays", "JournalingReportNdrTo", "MaxRecipientEnvelopeLimit",
        "MessageExpiration", "PreventDuplicateJournalingEnabled", "ReplyAllStormBlockDurationHours",
        "ReplyAllStormDetectionMinimumRecipients", "ReplyAllStormDetectionMinimumReplies",
        "ReplyAllStormProtectionEnabled", "Rfc2231EncodingEnabled", "SmtpClientAuthenticationDisabled",
        "VoicemailJournalingEnabled", "WhatIf"
    }),
    "Test-ServicePrincipalAuthorization": frozenset({"Confirm", "Identity", "Resource", "WhatIf"}),
}
"""Per cmdlet, its documented Exchange Online parameters."""
