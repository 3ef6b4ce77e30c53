# Pester 5 unit tests of ExoOAuth.psm1, with the Exchange Online cmdlets stubbed as Microsoft365DSC's unit tests stub
# them (e.g. Microsoft365DSC.EXOCASMailboxSettings.Tests.ps1): no tenant, no ExchangeOnlineManagement module needed.
# Run them where pwsh and Pester 5 exist:
#     pwsh -NoProfile -Command 'Invoke-Pester -Path exo_domain/exchange/ExoOAuth.Tests.ps1 -Output Detailed'
# tests/test_exchange_pester.py (no pwsh there) checks that this file parses, stubs every Exchange cmdlet the module
# calls and has a Describe block for every exported function.

BeforeAll {
    # Each stub takes exactly the parameters the module passes, so a misspelt parameter fails the call.
    function global:Add-MailboxPermission {
        [CmdletBinding()] param($AccessRights, $Identity, $InheritanceType, $User)
    }
    function global:Add-RecipientPermission { [CmdletBinding()] param($AccessRights, $Confirm, $Identity, $Trustee) }
    function global:Connect-ExchangeOnline {
        [CmdletBinding()] param($AppId, $Certificate, $CertificateFilePath, $CertificatePassword,
            $CertificateThumbprint, $DelegatedOrganization, $ExchangeEnvironmentName, $Organization, $ShowBanner)
    }
    function global:Disconnect-ExchangeOnline { [CmdletBinding()] param($Confirm) }
    function global:Get-CASMailbox { [CmdletBinding()] param($Identity) }
    function global:Get-CASMailboxPlan { [CmdletBinding()] param() }
    function global:Get-ConnectionInformation { [CmdletBinding()] param() }
    function global:Get-DistributionGroupMember { [CmdletBinding()] param($Identity, $ResultSize) }
    function global:Get-Mailbox { [CmdletBinding()] param($Identity, $ResultSize) }
    function global:Get-MailboxPermission { [CmdletBinding()] param($Identity, $User) }
    function global:Get-EXOMailbox { [CmdletBinding()] param($ResultSize) }
    function global:Get-EXOMailboxPermission { [CmdletBinding()] param($ExternalDirectoryObjectId) }
    function global:Get-ManagementRoleAssignment { [CmdletBinding()] param($Identity) }
    function global:Get-ManagementScope { [CmdletBinding()] param($Identity) }
    function global:Get-Recipient { [CmdletBinding()] param($Identity) }
    function global:Get-RecipientPermission {
        [CmdletBinding()] param($AccessRights, $Identity, $ResultSize, $Trustee)
    }
    function global:Get-ServicePrincipal { [CmdletBinding()] param($Identity) }
    function global:Get-TransportConfig { [CmdletBinding()] param() }
    function global:New-ManagementRoleAssignment { [CmdletBinding()] param($App, $CustomResourceScope, $Name, $Role) }
    function global:New-ManagementScope { [CmdletBinding()] param($Name, $RecipientRestrictionFilter) }
    function global:New-ServicePrincipal { [CmdletBinding()] param($AppId, $DisplayName, $ObjectId) }
    function global:Remove-MailboxPermission {
        [CmdletBinding()] param($AccessRights, $Confirm, $Identity, $InheritanceType, $User)
    }
    function global:Remove-ManagementRoleAssignment { [CmdletBinding()] param($Confirm, $Identity) }
    function global:Remove-ManagementScope { [CmdletBinding()] param($Confirm, $Identity) }
    function global:Remove-RecipientPermission {
        [CmdletBinding()] param($AccessRights, $Confirm, $Identity, $Trustee)
    }
    function global:Remove-ServicePrincipal { [CmdletBinding()] param($Confirm, $Identity) }
    function global:Set-CASMailbox {
        [CmdletBinding()] param($Identity, $ImapEnabled, $PopEnabled, $SmtpClientAuthenticationDisabled)
    }
    function global:Set-ManagementScope { [CmdletBinding()] param($Identity, $RecipientRestrictionFilter) }
    function global:Set-ServicePrincipal { [CmdletBinding()] param($DisplayName, $Identity) }
    function global:Set-TransportConfig { [CmdletBinding()] param($SmtpClientAuthenticationDisabled) }
    function global:Test-ServicePrincipalAuthorization { [CmdletBinding()] param($Identity, $Resource) }
    Import-Module (Join-Path $PSScriptRoot 'ExoOAuth.psm1') -Force
    $script:Sp = '11111111-2222-4333-8444-555555555555'
    $script:AppId = '22222222-3333-4444-8555-666666666666'
    $script:Box = [pscustomobject]@{ Guid = 'b0b0b0b0-0000-4000-8000-000000000001'; PrimarySmtpAddress = 'box@contoso.com'
        EmailAddresses = @('SMTP:box@contoso.com') }
    $script:Filter = "(EmailAddresses -eq 'box@contoso.com')"
    $script:Name = "exo-oauth-$($script:AppId)"
}

BeforeEach {
    InModuleScope ExoOAuth {
        $script:ExoOAuthDrift.Clear()
        $script:ExoOAuthMailboxes = @{}
        $script:ExoOAuthDeclared = @{}
        $script:ExoOAuthRetrySeconds = @()
        $script:ExoOAuthFullAccessScanLimit = 0
    }
    Mock -ModuleName ExoOAuth Write-Host { $null }
    Mock -ModuleName ExoOAuth Get-Mailbox { $script:Box }
}

Describe 'Write-ExoOAuthStep' {
    It 'prints the status and the message on one line' {
        Write-ExoOAuthStep 'ok' 'all good'
        Should -Invoke -ModuleName ExoOAuth Write-Host -Times 1 -Exactly -ParameterFilter { $Object -match '^ok +all good$' }
    }
}

Describe 'Connect-ExoOAuth' {
    It 'stops, changing nothing, when the sign-in landed in another tenant' {
        Mock -ModuleName ExoOAuth Connect-ExchangeOnline { $null }
        Mock -ModuleName ExoOAuth Disconnect-ExchangeOnline { $null }
        Mock -ModuleName ExoOAuth Get-ConnectionInformation { [pscustomobject]@{ State = 'Connected'; TenantID = 'other' } }
        { Connect-ExoOAuth -ExchangeEnvironmentName 'O365Default' -TenantId $script:Sp } | Should -Throw '*for tenant*'
        Should -Invoke -ModuleName ExoOAuth Disconnect-ExchangeOnline -Times 1 -Exactly
    }
}

Describe 'Register-ExoOAuthServicePrincipal' {
    It 'creates the service principal only when Exchange has none' {
        Mock -ModuleName ExoOAuth Get-ServicePrincipal { @() }
        Mock -ModuleName ExoOAuth New-ServicePrincipal { $null }
        Register-ExoOAuthServicePrincipal -App 'a' -AppId $script:AppId -ObjectId $script:Sp -DisplayName 'A'
        Should -Invoke -ModuleName ExoOAuth New-ServicePrincipal -Times 1 -Exactly -ParameterFilter { $ObjectId -eq $script:Sp }
    }
    It 'changes nothing when it is registered with the same name' {
        Mock -ModuleName ExoOAuth Get-ServicePrincipal {
            [pscustomobject]@{ AppId = $script:AppId; ObjectId = $script:Sp; DisplayName = 'A' } }
        Mock -ModuleName ExoOAuth New-ServicePrincipal { $null }
        Register-ExoOAuthServicePrincipal -App 'a' -AppId $script:AppId -ObjectId $script:Sp -DisplayName 'A'
        Should -Invoke -ModuleName ExoOAuth New-ServicePrincipal -Times 0 -Exactly
    }
}

Describe 'Test-ExoOAuthServicePrincipal' {
    It 'reports a missing service principal as drift' {
        Mock -ModuleName ExoOAuth Get-ServicePrincipal { @() }
        Test-ExoOAuthServicePrincipal -App 'a' -AppId $script:AppId -ObjectId $script:Sp -DisplayName 'A'
        InModuleScope ExoOAuth { $script:ExoOAuthDrift.Count } | Should -Be 1
    }
}

Describe 'Unregister-ExoOAuthServicePrincipal' {
    It 'removes nothing when the service principal is already gone' {
        Mock -ModuleName ExoOAuth Get-ServicePrincipal { @() }
        Mock -ModuleName ExoOAuth Remove-ServicePrincipal { $null }
        Unregister-ExoOAuthServicePrincipal -App 'a' -AppId $script:AppId -ObjectId $script:Sp -DisplayName 'A'
        Should -Invoke -ModuleName ExoOAuth Remove-ServicePrincipal -Times 0 -Exactly
    }
}

Describe 'Grant-ExoOAuthRight' {
    It 'adds FullAccess only when the trustee lacks it' {
        Mock -ModuleName ExoOAuth Get-MailboxPermission { @() }
        Mock -ModuleName ExoOAuth Add-MailboxPermission { $null }
        Grant-ExoOAuthRight -Right FullAccess -App 'a' -Mailbox 'box@contoso.com' -Trustee $script:Sp
        Should -Invoke -ModuleName ExoOAuth Add-MailboxPermission -Times 1 -Exactly
    }
    It 'leaves a SendAs that is there' {
        Mock -ModuleName ExoOAuth Get-RecipientPermission { [pscustomobject]@{ AccessControlType = 'Allow' } }
        Mock -ModuleName ExoOAuth Add-RecipientPermission { $null }
        Grant-ExoOAuthRight -Right SendAs -App 'a' -Mailbox 'box@contoso.com' -Trustee $script:Sp
        Should -Invoke -ModuleName ExoOAuth Add-RecipientPermission -Times 0 -Exactly
    }
}

Describe 'Test-ExoOAuthRight' {
    It 'reports a missing FullAccess as drift' {
        Mock -ModuleName ExoOAuth Get-MailboxPermission { @() }
        Test-ExoOAuthRight -Right FullAccess -App 'a' -Mailbox 'box@contoso.com' -Trustee $script:Sp
        InModuleScope ExoOAuth { $script:ExoOAuthDrift.Count } | Should -Be 1
    }
}

Describe 'Revoke-ExoOAuthRight' {
    It 'removes a FullAccess that is there, and only then' {
        Mock -ModuleName ExoOAuth Get-MailboxPermission {
            [pscustomobject]@{ AccessRights = @('FullAccess'); Deny = $false; IsInherited = $false } }
        Mock -ModuleName ExoOAuth Remove-MailboxPermission { $null }
        Revoke-ExoOAuthRight -Right FullAccess -App 'a' -Mailbox 'box@contoso.com' -Trustee $script:Sp
        Should -Invoke -ModuleName ExoOAuth Remove-MailboxPermission -Times 1 -Exactly
    }
    It 'is a no-op when SendAs is already gone' {
        Mock -ModuleName ExoOAuth Get-RecipientPermission { @() }
        Mock -ModuleName ExoOAuth Remove-RecipientPermission { $null }
        Revoke-ExoOAuthRight -Right SendAs -App 'a' -Mailbox 'box@contoso.com' -Trustee $script:Sp
        Should -Invoke -ModuleName ExoOAuth Remove-RecipientPermission -Times 0 -Exactly
    }
}

Describe 'Set-ExoOAuthFullAccessScan' {
    It 'sets the number of mailboxes the FullAccess pass reads' {
        Set-ExoOAuthFullAccessScan -Limit 25
        InModuleScope ExoOAuth { $script:ExoOAuthFullAccessScanLimit } | Should -Be 25
    }
}

Describe 'Test-ExoOAuthUndeclaredRight' {
    It 'reports a SendAs on a recipient the stack does not declare' {
        Mock -ModuleName ExoOAuth Get-RecipientPermission { [pscustomobject]@{ Identity = 'ceo'; AccessControlType = 'Allow' } }
        Mock -ModuleName ExoOAuth Get-Recipient { [pscustomobject]@{ Guid = 'c0c0c0c0-0000-4000-8000-000000000002' } }
        Test-ExoOAuthUndeclaredRight -App 'a' -Trustee $script:Sp
        InModuleScope ExoOAuth { $script:ExoOAuthDrift[0] } | Should -BeLike '*SendAs on ceo*'
    }
    It 'reads no mailbox permission unless the FullAccess pass is asked for' {
        Mock -ModuleName ExoOAuth Get-RecipientPermission { @() }
        Mock -ModuleName ExoOAuth Get-MailboxPermission { @() }
        Test-ExoOAuthUndeclaredRight -App 'a' -Trustee $script:Sp
        Should -Invoke -ModuleName ExoOAuth Get-MailboxPermission -Times 0 -Exactly
    }
}

Describe 'Enable-ExoOAuthMailboxProtocol' {
    It 'turns the switch on only when it is off' {
        Mock -ModuleName ExoOAuth Get-CASMailbox { [pscustomobject]@{ ImapEnabled = $false } }
        Mock -ModuleName ExoOAuth Set-CASMailbox { $null }
        Enable-ExoOAuthMailboxProtocol -Mailbox 'box@contoso.com' -Label 'IMAP' -Property 'ImapEnabled' -Wanted 'True'
        Should -Invoke -ModuleName ExoOAuth Set-CASMailbox -Times 1 -Exactly -ParameterFilter { $ImapEnabled -eq $true }
    }
}

Describe 'Test-ExoOAuthMailboxProtocol' {
    It 'reports a switch that is off as drift' {
        Mock -ModuleName ExoOAuth Get-CASMailbox { [pscustomobject]@{ ImapEnabled = $false } }
        Test-ExoOAuthMailboxProtocol -Mailbox 'box@contoso.com' -Label 'IMAP' -Property 'ImapEnabled' -Wanted 'True'
        InModuleScope ExoOAuth { $script:ExoOAuthDrift.Count } | Should -Be 1
    }
}

Describe 'Show-ExoOAuthMailboxProtocol' {
    It 'changes no switch' {
        Mock -ModuleName ExoOAuth Set-CASMailbox { $null }
        Show-ExoOAuthMailboxProtocol -Mailbox 'box@contoso.com' -Label 'IMAP' -Property 'ImapEnabled' -Wanted 'True'
        Should -Invoke -ModuleName ExoOAuth Set-CASMailbox -Times 0 -Exactly
    }
}

Describe 'Enable-ExoOAuthGroupProtocol' {
    It 'turns the switch on for each member mailbox' {
        Mock -ModuleName ExoOAuth Get-DistributionGroupMember {
            [pscustomobject]@{ RecipientTypeDetails = 'UserMailbox'; PrimarySmtpAddress = 'box@contoso.com' } }
        Mock -ModuleName ExoOAuth Get-CASMailbox { [pscustomobject]@{ ImapEnabled = $false } }
        Mock -ModuleName ExoOAuth Set-CASMailbox { $null }
        Enable-ExoOAuthGroupProtocol -App 'd' -Group 'staff@contoso.com' -Label 'IMAP' -Property 'ImapEnabled' -Wanted 'True'
        Should -Invoke -ModuleName ExoOAuth Set-CASMailbox -Times 1 -Exactly
    }
}

Describe 'Test-ExoOAuthGroupProtocol' {
    It 'reports a group without member mailboxes as drift' {
        Mock -ModuleName ExoOAuth Get-DistributionGroupMember { @() }
        Test-ExoOAuthGroupProtocol -App 'd' -Group 'staff@contoso.com' -Label 'IMAP' -Property 'ImapEnabled' -Wanted 'True'
        InModuleScope ExoOAuth { $script:ExoOAuthDrift.Count } | Should -Be 1
    }
}

Describe 'Show-ExoOAuthGroupProtocol' {
    It 'does not even list the group' {
        Mock -ModuleName ExoOAuth Get-DistributionGroupMember { $null }
        Show-ExoOAuthGroupProtocol -App 'd' -Group 'staff@contoso.com' -Label 'IMAP' -Property 'ImapEnabled' -Wanted 'True'
        Should -Invoke -ModuleName ExoOAuth Get-DistributionGroupMember -Times 0 -Exactly
    }
}

Describe 'Show-ExoOAuthTenantProtocol' {
    It 'reports SMTP AUTH from the transport config and changes nothing' {
        Mock -ModuleName ExoOAuth Get-TransportConfig { [pscustomobject]@{ SmtpClientAuthenticationDisabled = $true } }
        Mock -ModuleName ExoOAuth Set-TransportConfig { $null }
        Show-ExoOAuthTenantProtocol -App 'd' -Protocol 'smtp' -Label 'SMTP AUTH' `
            -Property 'SmtpClientAuthenticationDisabled' -Wanted 'False'
        Should -Invoke -ModuleName ExoOAuth Set-TransportConfig -Times 0 -Exactly
    }
}

Describe 'Set-ExoOAuthTenantSmtpAuth' {
    It 'changes the tenant switch only when asked and it differs' {
        Mock -ModuleName ExoOAuth Get-TransportConfig { [pscustomobject]@{ SmtpClientAuthenticationDisabled = $true } }
        Mock -ModuleName ExoOAuth Set-TransportConfig { $null }
        Set-ExoOAuthTenantSmtpAuth -Setting report
        Set-ExoOAuthTenantSmtpAuth -Setting enable
        Should -Invoke -ModuleName ExoOAuth Set-TransportConfig -Times 1 -Exactly
    }
}

Describe 'Test-ExoOAuthTenantSmtpAuth' {
    It 'reports a tenant switch against the setting as drift' {
        Mock -ModuleName ExoOAuth Get-TransportConfig { [pscustomobject]@{ SmtpClientAuthenticationDisabled = $true } }
        Test-ExoOAuthTenantSmtpAuth -Setting enable
        InModuleScope ExoOAuth { $script:ExoOAuthDrift.Count } | Should -Be 1
    }
}

Describe 'Set-ExoOAuthManagementScope' {
    It 'leaves a scope whose filter selects the same mailboxes' {
        Mock -ModuleName ExoOAuth Get-ManagementScope {
            [pscustomobject]@{ Name = $script:Name; RecipientFilter = "((EmailAddresses -eq 'box@contoso.com'))" } }
        Mock -ModuleName ExoOAuth Set-ManagementScope { $null }
        Mock -ModuleName ExoOAuth New-ManagementScope { $null }
        Set-ExoOAuthManagementScope -App 'r' -Name $script:Name -Filter $script:Filter
        Should -Invoke -ModuleName ExoOAuth Set-ManagementScope -Times 0 -Exactly
        Should -Invoke -ModuleName ExoOAuth New-ManagementScope -Times 0 -Exactly
    }
    It 'narrows a scope that selects more' {
        Mock -ModuleName ExoOAuth Get-ManagementScope {
            [pscustomobject]@{ Name = $script:Name; RecipientFilter = "$($script:Filter) -or (EmailAddresses -eq 'x@contoso.com')" } }
        Mock -ModuleName ExoOAuth Set-ManagementScope { $null }
        Set-ExoOAuthManagementScope -App 'r' -Name $script:Name -Filter $script:Filter
        Should -Invoke -ModuleName ExoOAuth Set-ManagementScope -Times 1 -Exactly -ParameterFilter {
            $RecipientRestrictionFilter -eq $script:Filter }
    }
}

Describe 'Test-ExoOAuthManagementScope' {
    It 'reports a missing scope as drift' {
        Mock -ModuleName ExoOAuth Get-ManagementScope { @() }
        Test-ExoOAuthManagementScope -App 'r' -Name $script:Name -Filter $script:Filter
        InModuleScope ExoOAuth { $script:ExoOAuthDrift.Count } | Should -Be 1
    }
}

Describe 'Remove-ExoOAuthManagementScope' {
    It 'removes a scope that is there' {
        Mock -ModuleName ExoOAuth Get-ManagementScope { [pscustomobject]@{ Name = $script:Name } }
        Mock -ModuleName ExoOAuth Remove-ManagementScope { $null }
        Remove-ExoOAuthManagementScope -App 'r' -Name $script:Name -Filter $script:Filter
        Should -Invoke -ModuleName ExoOAuth Remove-ManagementScope -Times 1 -Exactly
    }
}

Describe 'Grant-ExoOAuthRoleAssignment' {
    It 'assigns the role to the service principal ObjectId on the scope when there is none' {
        Mock -ModuleName ExoOAuth Get-ManagementRoleAssignment { @() }
        Mock -ModuleName ExoOAuth New-ManagementRoleAssignment { $null }
        Grant-ExoOAuthRoleAssignment -App 'r' -Name $script:Name -Role 'Application SMTP.SendAsApp' -ObjectId $script:Sp `
            -Scope $script:Name
        Should -Invoke -ModuleName ExoOAuth New-ManagementRoleAssignment -Times 1 -Exactly -ParameterFilter {
            $App -eq $script:Sp -and $CustomResourceScope -eq $script:Name -and $Role -eq 'Application SMTP.SendAsApp' }
    }
}

Describe 'Test-ExoOAuthRoleAssignment' {
    It 'reports an assignment on another scope as drift' {
        Mock -ModuleName ExoOAuth Get-ManagementRoleAssignment {
            [pscustomobject]@{ Name = $script:Name; Role = 'Application SMTP.SendAsApp'; CustomResourceScope = 'other' } }
        Test-ExoOAuthRoleAssignment -App 'r' -Name $script:Name -Role 'Application SMTP.SendAsApp' -ObjectId $script:Sp `
            -Scope $script:Name
        InModuleScope ExoOAuth { $script:ExoOAuthDrift.Count } | Should -Be 1
    }
}

Describe 'Revoke-ExoOAuthRoleAssignment' {
    It 'is a no-op when the assignment is already gone' {
        Mock -ModuleName ExoOAuth Get-ManagementRoleAssignment { @() }
        Mock -ModuleName ExoOAuth Remove-ManagementRoleAssignment { $null }
        Revoke-ExoOAuthRoleAssignment -App 'r' -Name $script:Name -Role 'Application SMTP.SendAsApp' `
            -ObjectId $script:Sp -Scope $script:Name
        Should -Invoke -ModuleName ExoOAuth Remove-ManagementRoleAssignment -Times 0 -Exactly
    }
}

Describe 'Test-ExoOAuthSendAuthorization' {
    It 'reports a mailbox outside the role assignment''s scope as drift' {
        Mock -ModuleName ExoOAuth Test-ServicePrincipalAuthorization {
            [pscustomobject]@{ RoleName = 'Application SMTP.SendAsApp'; InScope = $false } }
        Test-ExoOAuthSendAuthorization -App 'r' -ObjectId $script:Sp -Mailbox 'box@contoso.com' -Role 'Application SMTP.SendAsApp'
        InModuleScope ExoOAuth { $script:ExoOAuthDrift.Count } | Should -Be 1
    }
}

Describe 'Complete-ExoOAuthVerify' {
    It 'prints "No drift." and returns $false when nothing drifted' {
        Complete-ExoOAuthVerify | Should -BeFalse
        Should -Invoke -ModuleName ExoOAuth Write-Host -Times 1 -Exactly -ParameterFilter { $Object -eq 'No drift.' }
    }
    It 'lists each drifted item and returns $true' {
        InModuleScope ExoOAuth { $script:ExoOAuthDrift.Add('SendAs missing') }
        Complete-ExoOAuthVerify | Should -BeTrue
        Should -Invoke -ModuleName ExoOAuth Write-Host -Times 1 -Exactly -ParameterFilter { $Object -eq '  - SendAs missing' }
    }
}

Describe 'Export-ExoOAuthExchangeState' {
    It 'writes each permission held by a service principal, and changes nothing' {
        Mock -ModuleName ExoOAuth Get-ServicePrincipal {
            [pscustomobject]@{ Identity = 'Scanner'; AppId = $script:AppId; ObjectId = $script:Sp; DisplayName = 'Scanner' } }
        Mock -ModuleName ExoOAuth Get-EXOMailbox {
            [pscustomobject]@{ PrimarySmtpAddress = 'scanner@contoso.com'; ExternalDirectoryObjectId = $script:Sp
                Guid = $script:Sp } }
        Mock -ModuleName ExoOAuth Write-Progress { $null }
        Mock -ModuleName ExoOAuth Get-EXOMailboxPermission {
            [pscustomobject]@{ User = 'Scanner'; AccessRights = 'FullAccess'; IsInherited = $false } }
        Mock -ModuleName ExoOAuth Get-RecipientPermission { @() }
        $path = Join-Path $TestDrive 'export.json'
        Export-ExoOAuthExchangeState -Format 'exo-oauth-exchange-export/1' -Path $path
        $written = Get-Content -Raw -Path $path | ConvertFrom-Json
        $written.mailboxPermissions[0].principalObjectId | Should -Be $script:Sp
        $written.mailboxPermissions[0].rights | Should -Be @('FullAccess')
    }
}
