"""Read a tenant's existing mail apps from Microsoft Graph (read-only), judge them, and write an adopting stack."""

EXIT_CLEAN = 0
"""audit: no findings; adopt: written without findings."""
EXIT_FINDINGS = 1
"""audit: findings; adopt: written, with findings to review."""
EXIT_UNREACHABLE = 3
"""Graph or the login host could not be read (network, refusal, throttled past the deadline); nothing written."""
