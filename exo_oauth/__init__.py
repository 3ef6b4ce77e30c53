"""exo-oauth: move IMAP, POP and SMTP AUTH clients of Exchange Online to OAuth, as code."""
