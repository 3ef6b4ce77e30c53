"""Local stand-ins for Microsoft's endpoints and the mail servers, for the tests and bench/.

Token endpoint, Microsoft Graph, Dovecot and scripted IMAP/POP/SMTP peers with their own test PKI. Not part of the
product: neither installed nor imported by it.
"""
