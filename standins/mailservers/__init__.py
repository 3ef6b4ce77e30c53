"""Local stand-ins for Microsoft's login and mail servers: an HTTPS OAuth token endpoint and Dovecot, for `verify`."""
