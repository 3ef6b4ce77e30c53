"""Sign-in to Microsoft Entra ID for every command that needs a token: verify, drift, audit and adopt.

One home for the parts a sign-in is made of, so a fix in one reaches all four:
- secret.py: the Secret wrapper and the scrub that keeps a credential out of every message;
- credentials.py: the app's own credential (a secret from a variable, a certificate file), never a flag's value;
- hosts.py: the login host of each cloud and the `--authority-host`/`--graph-host` overrides;
- session.py: the one requests session msal talks through (no redirects, HTTPS only, the run's deadline);
- token.py: one access token with msal (client credentials or device code), bounded by the run's deadline, its
  failures named and scrubbed.
"""
