# exo-oauth's Exchange Online steps: one function per step and verb (apply: Register/Grant/Enable/Set, verify: Test,
# remove: Unregister/Revoke/Show), with the helpers they share.
#
# The generated scripts import this file from beside them, after checking its SHA-256 (docs/exchange.md); the
# Export-ModuleMember list at the end is what they may call, and ExoOAuth.Tests.ps1 tests each export with Pester.
# Values reach these functions only as parameters: the scripts pass every per-stack value as a single-quoted literal.

# A script module does not see its caller's preference variables (PowerShell/PowerShell#4568), so the module sets its
# own: stop on every error and on undefined variables, as the scripts do.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

function Write-ExoOAuthStep {
    param([Parameter(Mandatory)] [string] $Status, [Parameter(Mandatory)] [string] $Message)
    Write-Host ('{0,-8} {1}' -f $Status, $Message)
}

$script:ExoOAuthDrift = [System.Collections.Generic.List[string]]::new()
function Add-ExoOAuthDrift {
    param([Parameter(Mandatory)] [string] $Message)
    $script:ExoOAuthDrift.Add($Message)
    Write-ExoOAuthStep 'DRIFT' $Message
}

function Test-ExoOAuthNotFound {
    param([Parameter(Mandatory)] [System.Management.Automation.ErrorRecord] $ErrorRecord)
    ("$($ErrorRecord.CategoryInfo.Reason)" -eq 'ManagementObjectNotFoundException') -or
        ("$($ErrorRecord.Exception.Message)" -match "couldn't be found")
}

function Connect-ExoOAuth {
    param(
        [string] $AppId, [string] $CertificateThumbprint,
        [System.Security.Cryptography.X509Certificates.X509Certificate2] $Certificate,
        [string] $CertificateFilePath, [string] $CertificatePasswordVariable,
        [string] $Organization, [string] $DelegatedOrganization,
        [Parameter(Mandatory)] [string] $ExchangeEnvironmentName,
        [Parameter(Mandatory)] [string] $TenantId
    )
    $connect = @{ ShowBanner = $false; ExchangeEnvironmentName = $ExchangeEnvironmentName }
    if ($AppId -or $Certificate -or $CertificateFilePath -or $CertificateThumbprint) {
        if (-not ($AppId -and $Organization -and ($Certificate -or $CertificateFilePath -or $CertificateThumbprint))) {
            throw ('Certificate app-only sign-in needs -AppId, -Organization and one of -Certificate, ' +
                '-CertificateFilePath or -CertificateThumbprint (Windows only).')
        }
        $connect.AppId = $AppId
        $connect.Organization = $Organization
        # One certificate source, most explicit first: an object, then a file, then the Windows certificate store.
        if ($Certificate) {
            $connect.Certificate = $Certificate
        }
        elseif ($CertificateFilePath) {
            $connect.CertificateFilePath = $CertificateFilePath
            if ($CertificatePasswordVariable) {
                $password = [Environment]::GetEnvironmentVariable($CertificatePasswordVariable)
                if (-not $password) {
                    throw ("Environment variable $CertificatePasswordVariable (the password of " +
                        "$CertificateFilePath) is not set.")
                }
                $connect.CertificatePassword = ConvertTo-SecureString -String $password -AsPlainText -Force
            }
        }
        else {
            if (-not $IsWindows) {
                throw ('Connect-ExchangeOnline takes -CertificateThumbprint only on Windows; on Linux and macOS ' +
                    'give -CertificateFilePath (exchange.certificateFilePath) or -Certificate.')
            }
            $connect.CertificateThumbprint = $CertificateThumbprint
        }
        Write-ExoOAuthStep 'connect' ("certificate app-only sign-in as app $AppId to $Organization " +
            "($ExchangeEnvironmentName)")
    }
    else {
        if ($DelegatedOrganization) {
            $connect.DelegatedOrganization = $DelegatedOrganization
        }
        Write-ExoOAuthStep 'connect' ("interactive sign-in to tenant $TenantId in $ExchangeEnvironmentName " +
            '(role group: Organization Management)')
    }
    Connect-ExchangeOnline @connect
    # An interactive sign-in can land in any tenant the account belongs to: check before changing anything.
    $connection = Get-ConnectionInformation | Where-Object { "$($_.State)" -eq 'Connected' } | Select-Object -Last 1
    $connected = ''
    if ($connection -and $connection.PSObject.Properties['TenantID']) {
        $connected = "$($connection.TenantID)"
    }
    if (-not $connected) {
        Write-Warning "Could not read the connected tenant's id; this script is for tenant $TenantId."
    }
    elseif ($connected -ne $TenantId) {
        Disconnect-ExchangeOnline -Confirm:$false
        throw "Signed in to tenant $connected, but this script is for tenant $TenantId. Nothing was changed."
    }
}

# Exchange Online learns of a new Entra service principal some minutes after it appears (directory replication), so
# the first New-ServicePrincipal or permission grant may fail; waits double, about four minutes in all.
$script:ExoOAuthRetrySeconds = @(15, 30, 60, 120)
function Invoke-ExoOAuthRetry {
    param([Parameter(Mandatory)] [string] $Activity, [Parameter(Mandatory)] [scriptblock] $Action)
    $waited = 0
    foreach ($wait in @($script:ExoOAuthRetrySeconds) + @($null)) {
        try {
            return & $Action
        }
        catch {
            if ($null -eq $wait) {
                throw ("$Activity still fails after $(@($script:ExoOAuthRetrySeconds).Count + 1) attempts over " +
                    "$waited s: $($_.Exception.Message). A new app can take longer to reach Exchange Online: run " +
                    'this script again later (with exchange.autoApply, the next pulumi up does).')
            }
            Write-ExoOAuthStep 'retry' "$Activity failed ($($_.Exception.Message)); next attempt in $wait s"
            Start-Sleep -Seconds $wait
            $waited += $wait
        }
    }
}

$script:ExoOAuthMailboxes = @{}
function Resolve-ExoOAuthMailbox {
    param([Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string] $Address)
    if (-not $script:ExoOAuthMailboxes.ContainsKey($Address)) {
        try {
            $found = @(Get-Mailbox -Identity $Address -ErrorAction Stop)
        }
        catch {
            if (-not (Test-ExoOAuthNotFound $_)) { throw }
            $found = @()
        }
        # Exact matches only: an Exchange Get- cmdlet may answer an unknown identity with every object.
        $exact = @($found | Where-Object { @($_.EmailAddresses) -contains "smtp:$Address" })
        if ($exact.Count -gt 1) {
            throw "More than one mailbox has the address $Address."
        }
        $script:ExoOAuthMailboxes[$Address] = if ($exact.Count) { $exact[0] } else { $null }
    }
    $script:ExoOAuthMailboxes[$Address]
}

function Find-ExoOAuthServicePrincipal {
    param(
        [Parameter(Mandatory)] [ValidateSet('AppId', 'ObjectId')] [string] $By,
        [Parameter(Mandatory)] [ValidatePattern('^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}\z')] [string] $Id
    )
    try {
        $found = @(Get-ServicePrincipal -Identity $Id -ErrorAction Stop)
    }
    catch {
        if (-not (Test-ExoOAuthNotFound $_)) { throw }
        $found = @()
    }
    # Exact matches only: Get-ServicePrincipal answers an empty or unknown -Identity with every service principal.
    @($found | Where-Object { "$($_.$By)" -eq $Id })
}

function Get-ExoOAuthRight {
    param(
        [Parameter(Mandatory)] [ValidateSet('FullAccess', 'SendAs')] [string] $Right,
        [Parameter(Mandatory)] [object] $Box,
        [Parameter(Mandatory)] [string] $Trustee
    )
    if ($Right -eq 'FullAccess') {
        @(Get-MailboxPermission -Identity "$($Box.Guid)" -User $Trustee -ErrorAction Stop | Where-Object {
                (@($_.AccessRights) -join ',') -match '\bFullAccess\b' -and "$($_.Deny)" -ne 'True' -and
                "$($_.IsInherited)" -ne 'True'
            })
    }
    else {
        @(Get-RecipientPermission -Identity "$($Box.Guid)" -Trustee $Trustee -AccessRights SendAs -ErrorAction Stop |
            Where-Object { "$($_.AccessControlType)" -eq 'Allow' })
    }
}

function Get-ExoOAuthTenantSmtpAuthDisabled {
    "$((Get-TransportConfig).SmtpClientAuthenticationDisabled)" -eq 'True'
}

function Register-ExoOAuthServicePrincipal {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $AppId,
        [Parameter(Mandatory)] [string] $ObjectId, [Parameter(Mandatory)] [string] $DisplayName
    )
    $byObjectId = @(Find-ExoOAuthServicePrincipal -By ObjectId -Id $ObjectId)
    $byAppId = @(Find-ExoOAuthServicePrincipal -By AppId -Id $AppId)
    $current = @($byObjectId | Where-Object { "$($_.AppId)" -eq $AppId })
    if ($current.Count -eq 1 -and $byAppId.Count -eq 1) {
        if ("$($current[0].DisplayName)" -ne $DisplayName) {
            Set-ServicePrincipal -Identity $ObjectId -DisplayName $DisplayName
            Write-ExoOAuthStep 'changed' "app '$App': renamed its Exchange service principal to '$DisplayName'"
        }
        Write-ExoOAuthStep 'ok' "app '$App': Exchange service principal AppId $AppId, ObjectId $ObjectId is registered"
        return
    }
    # A service principal with the wrong ObjectId (often the app registration's) or AppId cannot be fixed in place.
    foreach ($stale in @(@($byObjectId) + @($byAppId) | Sort-Object -Property ObjectId -Unique)) {
        Remove-ServicePrincipal -Identity "$($stale.ObjectId)" -Confirm:$false
        $was = "AppId $($stale.AppId), ObjectId $($stale.ObjectId)"
        Write-ExoOAuthStep 'removed' "app '$App': mismatched Exchange service principal $was"
    }
    Invoke-ExoOAuthRetry "app '$App': New-ServicePrincipal" {
        New-ServicePrincipal -AppId $AppId -ObjectId $ObjectId -DisplayName $DisplayName | Out-Null
    }
    Write-ExoOAuthStep 'changed' "app '$App': registered Exchange service principal AppId $AppId, ObjectId $ObjectId"
}

function Test-ExoOAuthServicePrincipal {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $AppId,
        [Parameter(Mandatory)] [string] $ObjectId, [Parameter(Mandatory)] [string] $DisplayName
    )
    try {
        $byAppId = @(Find-ExoOAuthServicePrincipal -By AppId -Id $AppId)
        $current = @(Find-ExoOAuthServicePrincipal -By ObjectId -Id $ObjectId |
                Where-Object { "$($_.AppId)" -eq $AppId })
        if ($current.Count -eq 1 -and $byAppId.Count -eq 1) {
            $name = "$($current[0].DisplayName)"
            if ($name -ne $DisplayName) {
                Add-ExoOAuthDrift "app '$App': Exchange service principal is named '$name', not '$DisplayName'"
            }
            else {
                Write-ExoOAuthStep 'ok' "app '$App': Exchange service principal AppId $AppId, ObjectId $ObjectId"
            }
        }
        elseif ($byAppId.Count) {
            $found = ($byAppId | ForEach-Object { "$($_.ObjectId)" }) -join ', '
            Add-ExoOAuthDrift "app '$App': the Exchange service principal of AppId $AppId is $found, not $ObjectId"
        }
        else {
            Add-ExoOAuthDrift "app '$App': no Exchange service principal with AppId $AppId and ObjectId $ObjectId"
        }
    }
    catch {
        Add-ExoOAuthDrift "app '$App': could not check its Exchange service principal: $($_.Exception.Message)"
    }
}

function Unregister-ExoOAuthServicePrincipal {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $AppId,
        [Parameter(Mandatory)] [string] $ObjectId, [Parameter(Mandatory)] [string] $DisplayName
    )
    $current = @(Find-ExoOAuthServicePrincipal -By ObjectId -Id $ObjectId | Where-Object { "$($_.AppId)" -eq $AppId })
    if (-not $current.Count) {
        Write-ExoOAuthStep 'absent' "app '$App': no Exchange service principal AppId $AppId, ObjectId $ObjectId"
        return
    }
    Remove-ServicePrincipal -Identity $ObjectId -Confirm:$false
    Write-ExoOAuthStep 'removed' "app '$App': Exchange service principal AppId $AppId, ObjectId $ObjectId"
}

function Grant-ExoOAuthRight {
    param(
        [Parameter(Mandatory)] [ValidateSet('FullAccess', 'SendAs')] [string] $Right,
        [Parameter(Mandatory)] [string] $App,
        [Parameter(Mandatory)] [string] $Mailbox,
        [Parameter(Mandatory)] [string] $Trustee
    )
    $box = Resolve-ExoOAuthMailbox -Address $Mailbox
    if (-not $box) { throw "app '$App': mailbox $Mailbox does not exist in Exchange Online." }
    # The check is inside the retry too: until the new service principal reaches Exchange Online, naming it as
    # -User or -Trustee fails just as the grant does.
    $granted = Invoke-ExoOAuthRetry "app '$App': granting $Right on $Mailbox" {
        if (@(Get-ExoOAuthRight -Right $Right -Box $box -Trustee $Trustee).Count) { return $false }
        if ($Right -eq 'FullAccess') {
            Add-MailboxPermission -Identity "$($box.Guid)" -User $Trustee -AccessRights FullAccess `
                -InheritanceType All | Out-Null
        }
        else {
            Add-RecipientPermission -Identity "$($box.Guid)" -Trustee $Trustee -AccessRights SendAs `
                -Confirm:$false | Out-Null
        }
        $true
    }
    if ($granted) {
        Write-ExoOAuthStep 'changed' "app '$App': granted $Right on $Mailbox"
    }
    else {
        Write-ExoOAuthStep 'ok' "app '$App': $Right on $Mailbox"
    }
}

# verify: the mailboxes each trustee holds each right on by the stack's declaration, by mailbox GUID.
$script:ExoOAuthDeclared = @{}
function Add-ExoOAuthDeclared {
    param(
        [Parameter(Mandatory)] [ValidateSet('FullAccess', 'SendAs')] [string] $Right,
        [Parameter(Mandatory)] [string] $Trustee, [Parameter(Mandatory)] [object] $Box
    )
    $script:ExoOAuthDeclared["$Trustee $Right $($Box.Guid)"] = $true
}

function Test-ExoOAuthRight {
    param(
        [Parameter(Mandatory)] [ValidateSet('FullAccess', 'SendAs')] [string] $Right,
        [Parameter(Mandatory)] [string] $App,
        [Parameter(Mandatory)] [string] $Mailbox,
        [Parameter(Mandatory)] [string] $Trustee
    )
    try {
        $box = Resolve-ExoOAuthMailbox -Address $Mailbox
        if (-not $box) {
            Add-ExoOAuthDrift "app '$App': mailbox $Mailbox does not exist"
        }
        elseif (@(Get-ExoOAuthRight -Right $Right -Box $box -Trustee $Trustee).Count) {
            Add-ExoOAuthDeclared -Right $Right -Trustee $Trustee -Box $box
            Write-ExoOAuthStep 'ok' "app '$App': $Right on $Mailbox"
        }
        else {
            Add-ExoOAuthDeclared -Right $Right -Trustee $Trustee -Box $box
            Add-ExoOAuthDrift "app '$App': no $Right on $Mailbox"
        }
    }
    catch {
        Add-ExoOAuthDrift "app '$App': could not check $Right on ${Mailbox}: $($_.Exception.Message)"
    }
}

# verify -FullAccessScanLimit N: how many mailboxes the opt-in FullAccess pass reads (0: none). Each mailbox costs one
# Get-MailboxPermission call per app-only app, so the pass is off unless asked for.
$script:ExoOAuthFullAccessScanLimit = 0
function Set-ExoOAuthFullAccessScan {
    param([Parameter(Mandatory)] [ValidateRange(0, [int]::MaxValue)] [int] $Limit)
    $script:ExoOAuthFullAccessScanLimit = $Limit
}

function Test-ExoOAuthUndeclaredRight {
    param([Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $Trustee)
    # Runs after the app's declared rights were checked, which recorded them.
    try {
        # One call lists every recipient the trustee may send as.
        $sendAs = @(Get-RecipientPermission -Trustee $Trustee -AccessRights SendAs -ResultSize Unlimited `
                -ErrorAction Stop | Where-Object { "$($_.AccessControlType)" -eq 'Allow' })
        foreach ($permission in $sendAs) {
            $recipient = @(Get-Recipient -Identity "$($permission.Identity)" -ErrorAction Stop)
            $guid = if ($recipient.Count -eq 1) { "$($recipient[0].Guid)" } else { '' }
            if (-not $script:ExoOAuthDeclared.ContainsKey("$Trustee SendAs $guid")) {
                Add-ExoOAuthDrift "app '$App': SendAs on $($permission.Identity), which the stack does not declare"
            }
        }
        Write-ExoOAuthStep 'ok' "app '$App': checked $($sendAs.Count) SendAs permission(s) for undeclared ones"
        $limit = $script:ExoOAuthFullAccessScanLimit
        if ($limit -le 0) {
            Write-ExoOAuthStep 'skipped' ("app '$App': FullAccess on undeclared mailboxes not scanned (opt in with " +
                '-FullAccessScanLimit N: one Get-MailboxPermission per mailbox)')
            return
        }
        $boxes = @(Get-Mailbox -ResultSize $limit -ErrorAction Stop)
        foreach ($box in $boxes) {
            if ($script:ExoOAuthDeclared.ContainsKey("$Trustee FullAccess $($box.Guid)")) { continue }
            if (@(Get-ExoOAuthRight -Right FullAccess -Box $box -Trustee $Trustee).Count) {
                Add-ExoOAuthDrift "app '$App': FullAccess on $($box.PrimarySmtpAddress), which the stack does not declare"
            }
        }
        $status = if ($boxes.Count -ge $limit) { 'warn' } else { 'ok' }
        $more = if ($boxes.Count -ge $limit) { '; the tenant may have more: raise -FullAccessScanLimit' } else { '' }
        Write-ExoOAuthStep $status "app '$App': scanned $($boxes.Count) mailbox(es) for undeclared FullAccess$more"
    }
    catch {
        Add-ExoOAuthDrift "app '$App': could not look for undeclared rights: $($_.Exception.Message)"
    }
}

function Revoke-ExoOAuthRight {
    param(
        [Parameter(Mandatory)] [ValidateSet('FullAccess', 'SendAs')] [string] $Right,
        [Parameter(Mandatory)] [string] $App,
        [Parameter(Mandatory)] [string] $Mailbox,
        [Parameter(Mandatory)] [string] $Trustee
    )
    $box = Resolve-ExoOAuthMailbox -Address $Mailbox
    $granted = @()
    if ($box) {
        try {
            $granted = @(Get-ExoOAuthRight -Right $Right -Box $box -Trustee $Trustee)
        }
        catch {
            if (-not (Test-ExoOAuthNotFound $_)) { throw }
        }
    }
    if (-not $granted.Count) {
        Write-ExoOAuthStep 'absent' "app '$App': no $Right on $Mailbox"
        return
    }
    if ($Right -eq 'FullAccess') {
        Remove-MailboxPermission -Identity "$($box.Guid)" -User $Trustee -AccessRights FullAccess `
            -InheritanceType All -Confirm:$false
    }
    else {
        Remove-RecipientPermission -Identity "$($box.Guid)" -Trustee $Trustee -AccessRights SendAs -Confirm:$false
    }
    Write-ExoOAuthStep 'removed' "app '$App': $Right on $Mailbox"
}

# Exchange RBAC for Applications (app-only SMTP): a management scope holding exactly the app's mailboxes, and the
# role assignment 'Application SMTP.SendAsApp' on it. Scope and assignment share one name, exo-oauth-<client id>.
function Find-ExoOAuthRbacObject {
    param(
        [Parameter(Mandatory)] [ValidateSet('ManagementScope', 'ManagementRoleAssignment')] [string] $Kind,
        [Parameter(Mandatory)] [ValidatePattern('^exo-oauth-[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}\z')] [string] $Name
    )
    try {
        $found = if ($Kind -eq 'ManagementScope') {
            @(Get-ManagementScope -Identity $Name -ErrorAction Stop)
        }
        else {
            @(Get-ManagementRoleAssignment -Identity $Name -ErrorAction Stop)
        }
    }
    catch {
        if (-not (Test-ExoOAuthNotFound $_)) { throw }
        $found = @()
    }
    @($found | Where-Object { "$($_.Name)" -eq $Name })
}

function Get-ExoOAuthFilterKey {
    param([Parameter(Mandatory)] [AllowEmptyString()] [string] $Filter)
    # Exchange may store a filter with other parentheses, spacing or case; compare what it selects, not its layout.
    ($Filter -replace '[()\s]', '').ToLowerInvariant()
}

function Set-ExoOAuthManagementScope {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $Filter
    )
    $current = @(Find-ExoOAuthRbacObject -Kind ManagementScope -Name $Name)
    if ($current.Count -and (Get-ExoOAuthFilterKey "$($current[0].RecipientFilter)") -eq
        (Get-ExoOAuthFilterKey $Filter)) {
        Write-ExoOAuthStep 'ok' "app '$App': management scope $Name holds exactly its mailboxes"
        return
    }
    if ($current.Count) {
        # Narrowing the scope is how RBAC revokes a mailbox; widening it is how it grants one.
        Set-ManagementScope -Identity $Name -RecipientRestrictionFilter $Filter
        Write-ExoOAuthStep 'changed' "app '$App': management scope $Name now holds exactly its mailboxes"
        return
    }
    New-ManagementScope -Name $Name -RecipientRestrictionFilter $Filter | Out-Null
    Write-ExoOAuthStep 'changed' "app '$App': created management scope $Name for its mailboxes"
}

function Test-ExoOAuthManagementScope {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $Filter
    )
    try {
        $current = @(Find-ExoOAuthRbacObject -Kind ManagementScope -Name $Name)
        if (-not $current.Count) {
            Add-ExoOAuthDrift "app '$App': no management scope $Name"
        }
        elseif ((Get-ExoOAuthFilterKey "$($current[0].RecipientFilter)") -ne (Get-ExoOAuthFilterKey $Filter)) {
            Add-ExoOAuthDrift "app '$App': management scope $Name selects '$($current[0].RecipientFilter)', not '$Filter'"
        }
        else {
            Write-ExoOAuthStep 'ok' "app '$App': management scope $Name"
        }
    }
    catch {
        Add-ExoOAuthDrift "app '$App': could not check management scope ${Name}: $($_.Exception.Message)"
    }
}

function Remove-ExoOAuthManagementScope {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $Filter
    )
    if (-not @(Find-ExoOAuthRbacObject -Kind ManagementScope -Name $Name).Count) {
        Write-ExoOAuthStep 'absent' "app '$App': no management scope $Name"
        return
    }
    Remove-ManagementScope -Identity $Name -Confirm:$false
    Write-ExoOAuthStep 'removed' "app '$App': management scope $Name"
}

function Grant-ExoOAuthRoleAssignment {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $Role, [Parameter(Mandatory)] [string] $ObjectId,
        [Parameter(Mandatory)] [string] $Scope
    )
    $current = @(Find-ExoOAuthRbacObject -Kind ManagementRoleAssignment -Name $Name)
    if ($current.Count -and "$($current[0].Role)" -eq $Role -and "$($current[0].CustomResourceScope)" -eq $Scope) {
        Write-ExoOAuthStep 'ok' "app '$App': role assignment $Name ($Role on scope $Scope)"
        return
    }
    foreach ($stale in $current) {
        # A role or scope cannot be changed in place on an app's assignment: remove it and assign again.
        Remove-ManagementRoleAssignment -Identity "$($stale.Name)" -Confirm:$false
        Write-ExoOAuthStep 'removed' "app '$App': mismatched role assignment $Name"
    }
    Invoke-ExoOAuthRetry "app '$App': New-ManagementRoleAssignment" {
        New-ManagementRoleAssignment -Name $Name -Role $Role -App $ObjectId -CustomResourceScope $Scope | Out-Null
    }
    Write-ExoOAuthStep 'changed' "app '$App': assigned $Role on scope $Scope"
}

function Test-ExoOAuthRoleAssignment {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $Role, [Parameter(Mandatory)] [string] $ObjectId,
        [Parameter(Mandatory)] [string] $Scope
    )
    try {
        $current = @(Find-ExoOAuthRbacObject -Kind ManagementRoleAssignment -Name $Name)
        if (-not $current.Count) {
            Add-ExoOAuthDrift "app '$App': no role assignment $Name ($Role)"
        }
        elseif ("$($current[0].Role)" -ne $Role -or "$($current[0].CustomResourceScope)" -ne $Scope) {
            Add-ExoOAuthDrift ("app '$App': role assignment $Name is $($current[0].Role) on scope " +
                "$($current[0].CustomResourceScope), not $Role on scope $Scope")
        }
        else {
            Write-ExoOAuthStep 'ok' "app '$App': role assignment $Name ($Role on scope $Scope)"
        }
    }
    catch {
        Add-ExoOAuthDrift "app '$App': could not check role assignment ${Name}: $($_.Exception.Message)"
    }
}

function Revoke-ExoOAuthRoleAssignment {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [string] $Role, [Parameter(Mandatory)] [string] $ObjectId,
        [Parameter(Mandatory)] [string] $Scope
    )
    if (-not @(Find-ExoOAuthRbacObject -Kind ManagementRoleAssignment -Name $Name).Count) {
        Write-ExoOAuthStep 'absent' "app '$App': no role assignment $Name"
        return
    }
    Remove-ManagementRoleAssignment -Identity $Name -Confirm:$false
    Write-ExoOAuthStep 'removed' "app '$App': role assignment $Name ($Role)"
}

function Test-ExoOAuthSendAuthorization {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $ObjectId,
        [Parameter(Mandatory)] [string] $Mailbox, [Parameter(Mandatory)] [string] $Role
    )
    # Microsoft's own check of an RBAC grant: is this mailbox in the scope of the app's role assignment?
    try {
        $box = Resolve-ExoOAuthMailbox -Address $Mailbox
        if (-not $box) {
            Add-ExoOAuthDrift "app '$App': mailbox $Mailbox does not exist"
            return
        }
        $results = @(Test-ServicePrincipalAuthorization -Identity $ObjectId -Resource "$($box.Guid)" |
                Where-Object { "$($_.RoleName)" -eq $Role })
        if (@($results | Where-Object { "$($_.InScope)" -eq 'True' }).Count) {
            Write-ExoOAuthStep 'ok' "app '$App': may send as $Mailbox ($Role)"
        }
        else {
            Add-ExoOAuthDrift "app '$App': $Mailbox is not in the scope of its $Role assignment"
        }
    }
    catch {
        Add-ExoOAuthDrift "app '$App': could not test its authorization on ${Mailbox}: $($_.Exception.Message)"
    }
}

function Enable-ExoOAuthMailboxProtocol {
    param(
        [Parameter(Mandatory)] [string] $Mailbox, [Parameter(Mandatory)] [string] $Label,
        [Parameter(Mandatory)] [string] $Property,
        [Parameter(Mandatory)] [ValidateSet('True', 'False')] [string] $Wanted
    )
    $box = Resolve-ExoOAuthMailbox -Address $Mailbox
    if (-not $box) { throw "Mailbox $Mailbox does not exist in Exchange Online." }
    $current = (Get-CASMailbox -Identity "$($box.Guid)").$Property
    if ("$current" -eq $Wanted) {
        Write-ExoOAuthStep 'ok' "$Label is on for $Mailbox ($Property $current)"
        return
    }
    $change = @{ Identity = "$($box.Guid)" }
    $change[$Property] = [bool]::Parse($Wanted)
    Set-CASMailbox @change
    Write-ExoOAuthStep 'changed' "$Label turned on for $Mailbox ($Property was '$current')"
}

function Test-ExoOAuthMailboxProtocol {
    param(
        [Parameter(Mandatory)] [string] $Mailbox, [Parameter(Mandatory)] [string] $Label,
        [Parameter(Mandatory)] [string] $Property,
        [Parameter(Mandatory)] [ValidateSet('True', 'False')] [string] $Wanted
    )
    try {
        $box = Resolve-ExoOAuthMailbox -Address $Mailbox
        if (-not $box) {
            Add-ExoOAuthDrift "mailbox $Mailbox does not exist"
            return
        }
        $current = (Get-CASMailbox -Identity "$($box.Guid)").$Property
        if ("$current" -eq $Wanted) {
            Write-ExoOAuthStep 'ok' "$Label is on for $Mailbox"
        }
        else {
            Add-ExoOAuthDrift "$Label is off for $Mailbox ($Property is '$current')"
        }
    }
    catch {
        Add-ExoOAuthDrift "could not check $Label for ${Mailbox}: $($_.Exception.Message)"
    }
}

function Show-ExoOAuthMailboxProtocol {
    param(
        [Parameter(Mandatory)] [string] $Mailbox, [Parameter(Mandatory)] [string] $Label,
        [Parameter(Mandatory)] [string] $Property,
        [Parameter(Mandatory)] [ValidateSet('True', 'False')] [string] $Wanted
    )
    # Other apps and people may rely on the switch, and apply does not record what it was before.
    Write-ExoOAuthStep 'kept' "$Property on $Mailbox is left as it is"
}

# A delegated app's signInGroup: the switch belongs to each member mailbox, so the group is expanded each run (members
# come and go) and each member is handled as a named mailbox is.
function Get-ExoOAuthGroupMailboxes {
    param([Parameter(Mandatory)] [ValidateNotNullOrEmpty()] [string] $Group)
    $members = @(Get-DistributionGroupMember -Identity $Group -ResultSize Unlimited -ErrorAction Stop)
    @($members | Where-Object { "$($_.RecipientTypeDetails)" -match 'Mailbox$' } |
            ForEach-Object { "$($_.PrimarySmtpAddress)" } | Where-Object { $_ })
}

function Enable-ExoOAuthGroupProtocol {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $Group,
        [Parameter(Mandatory)] [string] $Label, [Parameter(Mandatory)] [string] $Property,
        [Parameter(Mandatory)] [ValidateSet('True', 'False')] [string] $Wanted
    )
    $boxes = @(Get-ExoOAuthGroupMailboxes -Group $Group)
    Write-ExoOAuthStep 'report' "app '$App' (delegated): $Label for the $($boxes.Count) mailbox(es) of group $Group"
    foreach ($box in $boxes) {
        Enable-ExoOAuthMailboxProtocol -Mailbox $box -Label $Label -Property $Property -Wanted $Wanted
    }
}

function Test-ExoOAuthGroupProtocol {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $Group,
        [Parameter(Mandatory)] [string] $Label, [Parameter(Mandatory)] [string] $Property,
        [Parameter(Mandatory)] [ValidateSet('True', 'False')] [string] $Wanted
    )
    try {
        $boxes = @(Get-ExoOAuthGroupMailboxes -Group $Group)
    }
    catch {
        Add-ExoOAuthDrift "app '$App': could not list the members of group ${Group}: $($_.Exception.Message)"
        return
    }
    if (-not $boxes.Count) {
        Add-ExoOAuthDrift "app '$App': group $Group has no member mailbox"
    }
    foreach ($box in $boxes) {
        Test-ExoOAuthMailboxProtocol -Mailbox $box -Label $Label -Property $Property -Wanted $Wanted
    }
}

function Show-ExoOAuthGroupProtocol {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $Group,
        [Parameter(Mandatory)] [string] $Label, [Parameter(Mandatory)] [string] $Property,
        [Parameter(Mandatory)] [ValidateSet('True', 'False')] [string] $Wanted
    )
    # As for named mailboxes: other clients of the members may rely on the switch.
    Write-ExoOAuthStep 'kept' "$Property on the mailboxes of group $Group is left as it is"
}

function Show-ExoOAuthTenantProtocol {
    param(
        [Parameter(Mandatory)] [string] $App, [Parameter(Mandatory)] [string] $Protocol,
        [Parameter(Mandatory)] [string] $Label, [Parameter(Mandatory)] [string] $Property,
        [Parameter(Mandatory)] [ValidateSet('True', 'False')] [string] $Wanted
    )
    # SMTP AUTH has a tenant-wide switch (Set-TransportConfig); IMAP and POP have only the CAS mailbox plans.
    if ($Protocol -eq 'smtp') {
        $state = if (Get-ExoOAuthTenantSmtpAuthDisabled) { 'off' } else { 'on' }
        Write-ExoOAuthStep 'report' "app '$App' (delegated): $Label is $state tenant-wide (mailboxes may override)"
        return
    }
    $plans = @(Get-CASMailboxPlan)
    $off = @($plans | Where-Object { "$($_.$Property)" -ne $Wanted } | ForEach-Object { "$($_.Name)" })
    $status = if ($off.Count) { 'warn' } else { 'report' }
    $where = if ($off.Count) { " (off in $($off -join ', '))" } else { '' }
    $on = $plans.Count - $off.Count
    Write-ExoOAuthStep $status ("app '$App' (delegated): $Label is on in $on of $($plans.Count) CAS " +
        "mailbox plans$where; these set new mailboxes, and each mailbox's own $Property decides")
}

function Set-ExoOAuthTenantSmtpAuth {
    param([Parameter(Mandatory)] [ValidateSet('report', 'enable', 'disable')] [string] $Setting)
    $disabled = Get-ExoOAuthTenantSmtpAuthDisabled
    $state = if ($disabled) { 'off' } else { 'on' }
    if ($Setting -eq 'report') {
        Write-ExoOAuthStep 'report' "SMTP AUTH is $state tenant-wide (left as is: exchange.tenantSmtpAuth is report)"
        return
    }
    $wanted = $Setting -eq 'disable'
    if ($disabled -eq $wanted) {
        Write-ExoOAuthStep 'ok' "SMTP AUTH is $state tenant-wide"
        return
    }
    Set-TransportConfig -SmtpClientAuthenticationDisabled $wanted
    $now = if ($wanted) { 'off' } else { 'on' }
    Write-ExoOAuthStep 'changed' "SMTP AUTH turned $now tenant-wide (SmtpClientAuthenticationDisabled $wanted)"
}

function Test-ExoOAuthTenantSmtpAuth {
    param([Parameter(Mandatory)] [ValidateSet('report', 'enable', 'disable')] [string] $Setting)
    try {
        $disabled = Get-ExoOAuthTenantSmtpAuthDisabled
        $state = if ($disabled) { 'off' } else { 'on' }
        if ($Setting -eq 'report') {
            Write-ExoOAuthStep 'report' "SMTP AUTH is $state tenant-wide (exchange.tenantSmtpAuth is report)"
        }
        elseif ($disabled -eq ($Setting -eq 'disable')) {
            Write-ExoOAuthStep 'ok' "SMTP AUTH is $state tenant-wide"
        }
        else {
            Add-ExoOAuthDrift "SMTP AUTH is $state tenant-wide, but exchange.tenantSmtpAuth is $Setting"
        }
    }
    catch {
        Add-ExoOAuthDrift "could not check tenant-wide SMTP AUTH: $($_.Exception.Message)"
    }
}

# Returns whether anything drifted; the verify script itself exits with the drift status, so that `exit` ends the
# script and never the session that imported this module.
function Complete-ExoOAuthVerify {
    if ($script:ExoOAuthDrift.Count) {
        Write-Host "$($script:ExoOAuthDrift.Count) drifted item(s):"
        foreach ($item in $script:ExoOAuthDrift) { Write-Host "  - $item" }
        return $true
    }
    Write-Host 'No drift.'
    return $false
}

function Export-ExoOAuthExchangeState {
    param([Parameter(Mandatory)] [string] $Format, [Parameter(Mandatory)] [string] $Path)
    # Read-only: every Exchange Online service principal and, per mailbox, the non-inherited permissions one of them
    # holds, written as JSON for `exo-oauth audit` and `adopt --exchange-export`.
    # Get-ServicePrincipal has no -ResultSize; without -Identity it returns every service principal.
    $principals = @(Get-ServicePrincipal)
    $byTrustee = @{}
    foreach ($sp in $principals) {
        foreach ($name in @("$($sp.Identity)", "$($sp.ObjectId)", "$($sp.DisplayName)")) {
            if ($name) { $byTrustee[$name] = "$($sp.ObjectId)" }
        }
    }
    $permissions = [System.Collections.Generic.List[object]]::new()
    if ($principals.Count -gt 0) {
        # Get-EXOMailbox and Get-EXOMailboxPermission are the module's REST cmdlets, which Microsoft optimizes for
        # reading thousands of objects. A GDAP or CSP partner connects with -DelegatedOrganization first.
        $boxes = @(Get-EXOMailbox -ResultSize Unlimited)
        $done = 0
        foreach ($box in $boxes) {
            $address = "$($box.PrimarySmtpAddress)"
            Write-Progress -Activity 'Reading mailbox permissions' -Status $address `
                -PercentComplete ([int](100 * $done / $boxes.Count))
            $done++
            $entries = @(Get-EXOMailboxPermission -ExternalDirectoryObjectId "$($box.ExternalDirectoryObjectId)" |
                    Where-Object { -not $_.IsInherited })
            foreach ($entry in $entries) {
                $holder = $byTrustee["$($entry.User)"]
                if ($holder) {
                    $permissions.Add([ordered]@{ mailbox = $address; principalObjectId = $holder
                            rights = @("$($entry.AccessRights)" -split ', ') })
                }
            }
            foreach ($entry in @(Get-RecipientPermission -Identity "$($box.Guid)")) {
                $holder = $byTrustee["$($entry.Trustee)"]
                if ($holder) {
                    $permissions.Add([ordered]@{ mailbox = $address; principalObjectId = $holder
                            rights = @("$($entry.AccessRights)" -split ', ') })
                }
            }
        }
        Write-Progress -Activity 'Reading mailbox permissions' -Completed
    }
    [ordered]@{
        format = $Format
        servicePrincipals = @($principals | ForEach-Object {
                [ordered]@{ appId = "$($_.AppId)"; objectId = "$($_.ObjectId)"; displayName = "$($_.DisplayName)" } })
        mailboxPermissions = @($permissions)
    } | ConvertTo-Json -Depth 5 | Set-Content -Encoding utf8 -Path $Path
    Write-Host "Wrote $Path; pass it to exo-oauth audit or adopt with --exchange-export."
}

# What the generated scripts (and audit's export script) call; everything else is a helper of these.
Export-ModuleMember -Function @(
    'Write-ExoOAuthStep',
    'Connect-ExoOAuth',
    'Register-ExoOAuthServicePrincipal',
    'Test-ExoOAuthServicePrincipal',
    'Unregister-ExoOAuthServicePrincipal',
    'Grant-ExoOAuthRight',
    'Test-ExoOAuthRight',
    'Revoke-ExoOAuthRight',
    'Set-ExoOAuthFullAccessScan',
    'Test-ExoOAuthUndeclaredRight',
    'Set-ExoOAuthManagementScope',
    'Test-ExoOAuthManagementScope',
    'Remove-ExoOAuthManagementScope',
    'Grant-ExoOAuthRoleAssignment',
    'Test-ExoOAuthRoleAssignment',
    'Revoke-ExoOAuthRoleAssignment',
    'Test-ExoOAuthSendAuthorization',
    'Enable-ExoOAuthMailboxProtocol',
    'Test-ExoOAuthMailboxProtocol',
    'Show-ExoOAuthMailboxProtocol',
    'Enable-ExoOAuthGroupProtocol',
    'Test-ExoOAuthGroupProtocol',
    'Show-ExoOAuthGroupProtocol',
    'Show-ExoOAuthTenantProtocol',
    'Set-ExoOAuthTenantSmtpAuth',
    'Test-ExoOAuthTenantSmtpAuth',
    'Complete-ExoOAuthVerify',
    'Export-ExoOAuthExchangeState'
)
