"""A small HTTPS stand-in for Entra ID's v2.0 endpoints that msal accepts as an authority.

It serves `GET /<tenant>/v2.0/.well-known/openid-configuration`, `POST /<tenant>/oauth2/v2.0/token` (client
credentials with a secret or a certificate assertion, device code, refresh token) and `POST .../devicecode`, and
issues RS256 JWT access tokens with Entra-like claims (v1 shape: `aud`, `iss` https://sts.windows.net/<tid>/, `tid`,
`appid`, `roles` or `scp`, `upn`). Errors use Entra's shape and AADSTS codes. Registered `App`s describe both the
app registration and what Exchange Online would allow it (mailbox access, SMTP AUTH), because Dovecot can only judge
the token: for each Dovecot service the token carries `<service>_mailbox`, the mailbox that service may open or
`-`. That claim is the one deliberate difference from a real Entra token (local-mail-test-servers.md).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from exo_domain.permissions import APP_ONLY_ROLES, DELEGATED_SCOPES

from .https import HttpsServer, JsonHandler
from .pki import ServerTLS, private_pem

KEY_ID = "exo-oauth-test"
DOVECOT_SERVICES = {"imap": "imap", "pop": "pop3", "smtp": "submission"}
"""Our protocol names -> Dovecot's service names, which prefix the stand-in mailbox claims."""
NOT_GRANTED = "-"
RESERVED = {"openid", "profile", "offline_access"}
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class App:
    """An app registration in the stand-in tenant, and what Exchange Online would let it do."""

    client_id: str
    tenant_id: str
    secret: str | None = None
    secret_id: str | None = None
    """The secret's ID; presenting it instead of the value gets AADSTS7000215, as in Entra ID."""
    secret_expired: bool = False
    certificate: x509.Certificate | None = None
    public_client: bool = False
    roles: tuple[str, ...] = ()
    """App-only: granted and consented application permissions."""
    scopes: tuple[str, ...] = ()
    """Delegated: consented delegated permissions (names such as IMAP.AccessAsUser.All)."""
    consented: bool = True
    mailbox: str = ""
    """App-only: the mailbox its service principal has FullAccess on; delegated: the signed-in user."""
    smtp_auth_enabled: bool = True
    audience: str | None = None
    """Overrides `aud` (for example https://graph.microsoft.com)."""
    issuing_tenant: str | None = None
    """Overrides `tid` and `iss` (a token from another tenant)."""
    expired: bool = False
    """Issue tokens whose `exp` has passed while `expires_in` still says an hour (a skewed clock)."""
    lifetime: int = 3600
    federated: tuple[str, str, str, Any] | None = None
    """A federated credential: the issuer, subject and audience it accepts, and the issuer's public key."""
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class _State:
    """Everything the handler threads share, behind one lock."""

    tls: ServerTLS
    signing_key: Any
    base_url: str = ""
    tenants: set[str] = field(default_factory=set)
    apps: dict[str, App] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    issued: list[str] = field(default_factory=list)
    device_codes: dict[str, tuple[str, str]] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class TokenServer:
    """The stand-in, on 127.0.0.1 and a free high port, with TLS from the test CA."""

    def __init__(self, tls: ServerTLS, signing_key: Any) -> None:
        self.state = _State(tls, signing_key)
        self._https = HttpsServer(tls, _Handler, self.state, "token-server")
        self.state.base_url = self._https.origin

    @property
    def url(self) -> str:
        """The authority host, for `--authority-host`."""
        return self.state.base_url

    def issuer(self, tenant: str) -> str:
        """Return the `iss` of v1 access tokens for `tenant`, as Entra ID sets it."""
        return f"https://sts.windows.net/{tenant}/"

    def start(self) -> None:
        """Serve in a background thread."""
        self._https.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._https.stop()

    def add_tenant(self, tenant: str) -> None:
        """Make `tenant` known (its OpenID configuration answers)."""
        with self.state.lock:
            self.state.tenants.add(tenant)

    def register(self, app: App) -> App:
        """Add an app registration (and its tenant) and return it."""
        with self.state.lock:
            self.state.tenants.add(app.tenant_id)
            self.state.apps[app.client_id] = app
        return app

    def token_requests(self, client_id: str) -> int:
        """Return how many token endpoint requests `client_id` has made."""
        with self.state.lock:
            return self.state.requests[client_id]

    def issued_tokens(self) -> list[str]:
        """Return every access and refresh token issued so far (to assert that none is ever printed)."""
        with self.state.lock:
            return list(self.state.issued)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _EntraError(Exception):
    """An Entra-style error answer."""

    def __init__(self, status: int, error: str, code: int, text: str) -> None:
        super().__init__(text)
        self.status, self.error, self.code, self.text = status, error, code, text

    def body(self) -> dict[str, Any]:
        trace, correlation = uuid.uuid4(), uuid.uuid4()
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        return {"error": self.error, "error_codes": [self.code], "timestamp": stamp, "trace_id": str(trace),
                "correlation_id": str(correlation),
                "error_description": f"AADSTS{self.code}: {self.text}\r\nTrace ID: {trace}\r\n"
                                     f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"}


class _Handler(JsonHandler):
    server_version = "exo-oauth-test-sts"

    @property
    def state(self) -> _State:
        state: _State = self.server.state  # type: ignore[attr-defined]
        return state

    def _origin(self) -> str:
        """Return this server's origin as the client addressed it (through a proxy, the proxy's port)."""
        return f"https://{self.headers.get('Host') or self.state.base_url.removeprefix('https://')}"

    def do_GET(self) -> None:
        """Answer the tenant's OpenID configuration, or AADSTS90002 for an unknown tenant."""
        parts = urlsplit(self.path).path.strip("/").split("/")
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            tenant = parts[0]
            if tenant not in self.state.tenants:
                self.send_json(400, _EntraError(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.").body())
                return
            base = f"{self._origin()}/{tenant}"
            self.send_json(200, {"issuer": f"{base}/v2.0", "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                             "token_endpoint": f"{base}/oauth2/v2.0/token",
                             "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                             "jwks_uri": f"{base}/discovery/v2.0/keys"})
            return
        self.send_json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        """Answer the token and device code endpoints."""
        parts = urlsplit(self.path).path.strip("/").split("/")
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        try:
            if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
                self.send_json(200, self._token(parts[0], form))
            elif len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "devicecode"]:
                self.send_json(200, self._device_code(parts[0], form))
            else:
                self.send_json(404, {"error": "not_found"})
        except _EntraError as refused:
            self.send_json(refused.status, refused.body())

    def _app(self, tenant: str, form: dict[str, str]) -> App:
        client_id = form.get("client_id", "")
        with self.state.lock:
            app = self.state.apps.get(client_id)
        if app is None or app.tenant_id != tenant:
            raise _EntraError(400, "unauthorized_client", 700016,
                           f"Application with identifier '{client_id}' was not found in the directory '{tenant}'. "
                           "This can happen if the application has not been installed by the administrator of the "
                           "tenant or consented to by any user in the tenant.")
        return app

    def _device_code(self, tenant: str, form: dict[str, str]) -> dict[str, Any]:
        app = self._app(tenant, form)
        code, user_code = secrets.token_urlsafe(24), secrets.token_hex(4).upper()
        with self.state.lock:
            self.state.device_codes[code] = (app.client_id, form.get("scope", ""))
        return {"device_code": code, "user_code": user_code, "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": 900, "interval": 1,
                "message": f"To sign in, use a web browser to open the page https://microsoft.com/devicelogin and "
                           f"enter the code {user_code} to authenticate."}

    def _token(self, tenant: str, form: dict[str, str]) -> dict[str, Any]:
        with self.state.lock:
            self.state.requests[form.get("client_id", "")] += 1
        app = self._app(tenant, form)
        grant = form.get("grant_type")
        if grant == "client_credentials":
            self._authenticate_client(app, tenant, form)
            return self._issue(app, tenant, form.get("scope", ""), delegated=False)
        if not app.public_client and "client_secret" not in form and "client_assertion" not in form:
            raise _EntraError(401, "invalid_client", 7000218,
                           "The request body must contain the following parameter: 'client_assertion' or "
                           "'client_secret'.")
        with self.state.lock:
            if grant == DEVICE_CODE_GRANT:
                pending = self.state.device_codes.pop(form.get("device_code", ""), None)
            elif grant == "refresh_token":
                pending = self.state.refresh_tokens.get(form.get("refresh_token", ""))
            else:
                pending = None
        if pending is None or pending[0] != app.client_id:
            raise _EntraError(400, "invalid_grant", 70000, "The provided grant is invalid or expired.")
        if not app.consented:
            raise _EntraError(400, "invalid_grant", 65001,
                           f"The user or administrator has not consented to use the application with ID "
                           f"'{app.client_id}'. Send an interactive authorization request for this user and resource.")
        return self._issue(app, tenant, form.get("scope") or pending[1], delegated=True)

    def _authenticate_client(self, app: App, tenant: str, form: dict[str, str]) -> None:
        if "client_assertion" in form and app.federated is not None:
            issuer, subject, audience, key = app.federated
            try:
                claims = jwt.decode(form["client_assertion"], key, algorithms=["RS256"], issuer=issuer,
                                    audience=audience)
            except jwt.PyJWTError:
                raise _EntraError(401, "invalid_client", 700027,
                                  "Client assertion failed signature validation.") from None
            if claims.get("sub") != subject:
                raise _EntraError(400, "invalid_request", 700213, "No matching federated identity record found "
                                  f"for presented assertion subject '{claims.get('sub')}'.")
            return
        if "client_assertion" in form:
            try:
                if app.certificate is None:
                    raise jwt.InvalidTokenError("no certificate registered")
                claims = jwt.decode(form["client_assertion"], app.certificate.public_key(),  # type: ignore[arg-type]
                                    algorithms=["PS256", "RS256"], issuer=app.client_id,
                                    audience=f"{self._origin()}/{tenant}/oauth2/v2.0/token")
                header = jwt.get_unverified_header(form["client_assertion"])
                thumbprint = _b64url(app.certificate.fingerprint(hashes.SHA256()))
                if claims.get("sub") != app.client_id or str(header.get("x5t#S256")).rstrip("=") != thumbprint:
                    raise jwt.InvalidTokenError("wrong subject or certificate")
            except jwt.PyJWTError:
                raise _EntraError(401, "invalid_client", 700027,
                               "Client assertion failed signature validation.") from None
            return
        given = form.get("client_secret")
        if app.secret is None or given != app.secret:
            raise _EntraError(401, "invalid_client", 7000215,
                           "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                           f"secret value, not the client secret ID, for a secret added to app '{app.client_id}'.")
        if app.secret_expired:
            raise _EntraError(401, "invalid_client", 7000222,
                           f"The provided client secret keys for app '{app.client_id}' are expired.")

    def _issue(self, app: App, tenant: str, scope: str, delegated: bool) -> dict[str, Any]:
        requested = [s for s in scope.split() if s not in RESERVED]
        resource = requested[0].rsplit("/", 1)[0] if requested else ""
        tid = app.issuing_tenant or tenant
        now = int(time.time())
        issued_at, expires = (now - 3700, now - 100) if app.expired else (now - 5, now + app.lifetime)
        claims: dict[str, Any] = {
            "aud": app.audience or resource, "iss": f"https://sts.windows.net/{tid}/", "iat": issued_at,
            "nbf": issued_at, "exp": expires, "tid": tid, "appid": app.client_id, "ver": "1.0",
            "oid": app.object_id, "sub": app.object_id,
        }
        if delegated:
            names = [s.rsplit("/", 1)[-1] for s in requested]
            granted = [n for n in names if n in app.scopes]
            claims.update(scp=" ".join(granted), upn=app.mailbox, unique_name=app.mailbox, idtyp="user")
            allowed = {p for p, name in DELEGATED_SCOPES.items() if name in granted}
        else:
            if app.roles:
                claims["roles"] = list(app.roles)
            claims.update(idtyp="app", appidacr="2" if app.certificate else "1")
            allowed = {p for p, role in APP_ONLY_ROLES.items() if role in app.roles}
        for protocol, service in DOVECOT_SERVICES.items():
            granted_here = protocol in allowed and (protocol != "smtp" or app.smtp_auth_enabled)
            claims[f"{service}_mailbox"] = app.mailbox if granted_here else NOT_GRANTED
        token = jwt.encode(claims, private_pem(self.state.signing_key), algorithm="RS256",
                           headers={"typ": "JWT", "kid": KEY_ID})
        body: dict[str, Any] = {"token_type": "Bearer", "expires_in": app.lifetime, "ext_expires_in": app.lifetime,
                                "access_token": token}
        with self.state.lock:
            self.state.issued.append(token)
        if delegated:
            refresh = secrets.token_urlsafe(32)
            with self.state.lock:
                self.state.refresh_tokens[refresh] = (app.client_id, scope)
                self.state.issued.append(refresh)
            id_claims = {"aud": app.client_id, "iss": f"{self.state.base_url}/{tid}/v2.0", "iat": now,
                         "nbf": now, "exp": now + app.lifetime, "sub": app.object_id, "oid": app.object_id,
                         "tid": tid, "preferred_username": app.mailbox, "ver": "2.0"}
            body.update(
                scope=" ".join(s for s in requested if s.rsplit("/", 1)[-1] in app.scopes),
                refresh_token=refresh,
                id_token=jwt.encode(id_claims, private_pem(self.state.signing_key), algorithm="RS256",
                                    headers={"kid": KEY_ID}),
                client_info=_b64url(json.dumps({"uid": app.object_id, "utid": tid}).encode()),
            )
        return body
