"""Read a tenant's existing mail apps from Microsoft Graph (read-only), judge them, and write an adopting stack."""
