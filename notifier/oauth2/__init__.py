"""OAuth2 access tokens for the adapters that log in with a bearer token (API sources, IMAP
and SMTP), shared by them as :mod:`notifier.netio` is (docs/oauth2.md):

- ``grants``: the client-credentials grant, renewed ahead of expiry, a token file another tool
  keeps fresh, and one request to a token endpoint;
- ``signed``: logins proven by a signed JWT (Microsoft certificate credentials, Google service
  accounts);
- ``device``: a user's own sign-in by a device code, and the refresh tokens it gives;
- ``browser``: a user's sign-in in a browser (authorization code, PKCE, loopback redirect).
"""

from notifier.oauth2.browser import BrowserLogin, browser_login
from notifier.oauth2.device import DeviceLogin, RefreshStore, RefreshTokens, device_login
from notifier.oauth2.grants import (
    ClientCredentials,
    TokenError,
    TokenFile,
    TokenRequest,
    TokenSource,
    post_form,
)
from notifier.oauth2.signed import ClientCertificate, ServiceAccount, ServiceAccountTokens

__all__ = [
    "BrowserLogin",
    "ClientCertificate",
    "ClientCredentials",
    "DeviceLogin",
    "RefreshStore",
    "RefreshTokens",
    "ServiceAccount",
    "ServiceAccountTokens",
    "TokenError",
    "TokenFile",
    "TokenRequest",
    "TokenSource",
    "browser_login",
    "device_login",
    "post_form",
]
