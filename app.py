"""GoTo's access-token tutorial in one file: requests-oauthlib, python-dotenv and http.server.

    python app.py      # prints a sign-in link; sign in, click Allow; prints the token, masked

The stages are those of GoTo's Node.js tutorial's app.js (dotenv, simple-oauth2, crypto,
Express). With no OAUTH_SERVICE_URL in the environment or .env, it uses this project's local
sandbox (the one exception to "plain libraries only", marked below); fill .env to talk to GoTo.
"""

import os
import secrets
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, quote_plus, urlsplit

from dotenv import load_dotenv
from oauthlib.oauth2 import InvalidClientError, OAuth2Error
from requests import RequestException
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

# Stage 1: the OAuth client's values, from .env (dotenv -> python-dotenv).
load_dotenv()
if not os.environ.get("OAUTH_SERVICE_URL"):  # the exception: start or find the local sandbox
    from helpers import sandbox

    info = sandbox.ensure_running()
    os.environ.update(OAUTH_SERVICE_URL=info.url, OAUTH_CLIENT_ID=info.client_id)
    os.environ.update(OAUTH_CLIENT_SECRET=info.client_secret)
SERVICE_URL = os.environ["OAUTH_SERVICE_URL"].rstrip("/")
if urlsplit(SERVICE_URL).scheme == "http":  # OAuth needs TLS (RFC 6749 §3.1), oauthlib too
    if urlsplit(SERVICE_URL).hostname not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit(f"OAUTH_SERVICE_URL={SERVICE_URL}: use https (only 127.0.0.1 may be http)")
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # a server on this machine may use http://
CLIENT_ID, SECRET = os.environ["OAUTH_CLIENT_ID"], os.environ["OAUTH_CLIENT_SECRET"]
REDIRECT_URI = os.getenv("OAUTH_REDIRECT_URI") or "http://127.0.0.1:5000/login/oauth2/code/goto"

# Stage 2: the authorization URL with a random state (crypto.randomBytes -> secrets).
# PKCE (RFC 7636) is one keyword more than app.js; a server that ignores it is not harmed.
oauth = OAuth2Session(
    CLIENT_ID, redirect_uri=REDIRECT_URI, scope=["messaging.v1.send"], pkce="S256"
)
expected_state = secrets.token_hex(15)
authorization_url, _ = oauth.authorization_url(
    SERVICE_URL + "/oauth/authorize", state=expected_state
)


# Stage 3: listen on the redirect URI; refuse a callback whose state differs (Express -> http.server).
class Callback(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        if url.path != urlsplit(REDIRECT_URI).path:
            return self.send_error(404)
        if not secrets.compare_digest(query.get("state", ""), expected_state):
            print("Refused a callback whose state is not ours (403)")
            return self.send_error(403)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"Signed in: you can close this tab.")
        self.server.code = query.get("code")  # None when the user clicked Deny

    def log_message(self, *args):  # the request line holds the code: do not log it
        pass


try:
    server = HTTPServer((urlsplit(REDIRECT_URI).hostname, urlsplit(REDIRECT_URI).port), Callback)
except OSError as error:  # another program (a notebook's listener?) holds the port
    raise SystemExit(f"Cannot listen on {REDIRECT_URI}: {error.strerror}. Free the port.") from None
server.code = ""
print("Sign in and allow access at:", authorization_url, flush=True)
while server.code == "":
    server.handle_request()
server.server_close()
if not server.code:
    raise SystemExit("No authorization code: the sign-in was denied or failed.")

# Stage 4: exchange the code for an access token (AuthorizationCode.getToken -> fetch_token).
# HTTP Basic with id and secret form-encoded first (RFC 6749 §2.3.1), as simple-oauth2 does.
# Whether GoTo grants exactly the scopes asked is not documented: print them, don't raise.
os.environ.setdefault("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
token_url = SERVICE_URL + "/oauth/token"
exchange = dict(code=server.code, include_client_id=False, timeout=10)  # the id: in Basic only
try:
    try:
        auth = HTTPBasicAuth(quote_plus(CLIENT_ID), quote_plus(SECRET))
        token = oauth.fetch_token(token_url, auth=auth, **exchange)
    except InvalidClientError:  # GoTo's pages show the raw "id:secret": try that once too
        token = oauth.fetch_token(token_url, auth=HTTPBasicAuth(CLIENT_ID, SECRET), **exchange)
except OAuth2Error as error:  # the server's refusal (RFC 6749 §5.2), and what to do about it
    fix = "check OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET in .env"
    fix = fix if error.error == "invalid_client" else "run python app.py to sign in again"
    raise SystemExit(f"Token request refused ({error.error}): {fix}. {error.description}") from None
except RequestException as error:  # no answer at all: a stopped server, a wrong address
    hint = "is the server up and OAUTH_SERVICE_URL right? Then run python app.py again"
    raise SystemExit(f"No answer from {token_url} ({type(error).__name__}): {hint}.") from None
print("Access token for", token.get("principal"), "with scopes", " ".join(token.get("scope", [])))
print("Bearer …" + token["access_token"][-4:], "expires in", token["expires_in"], "seconds")
