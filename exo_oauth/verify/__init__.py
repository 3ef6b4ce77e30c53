"""`exo-oauth verify`: get a token with msal, log in to IMAP, POP and SMTP with XOAUTH2, and explain any failure.

Modules, one job each: `clouds` (login and mail hosts per Microsoft cloud), `secret` (a value that never prints
itself), `inputs` (command line and stack outputs to one `Target`), `token_cache` (msal's persistent cache:
encrypted, plain or off), `tokens` (msal), `checks` (the three protocol logins, run concurrently), `diagnosis` (token
claims and the catalogue of known failures) and `report` (table or JSON, exit status).
"""
