"""A sandbox in its own process, as learners have it (``python -m helpers.sandbox`` is one too),
with what the benchmark needs added through the public in-process API: K learners as users,
and a client registered for google-auth-oauthlib's redirect URI (``http://127.0.0.1:<port>/``).

    python -m bench.sandbox_process DATA_DIR PORT USERS

prints one JSON line (the SandboxInfo fields) once serving, then serves until stdin closes.
"""

from __future__ import annotations

import json
import sys

from helpers.sandbox import serve_in_thread

GOOGLE_CLIENT_ID = "bench-google-installed-app"
GOOGLE_CLIENT_SECRET = "bench+google/secret="
SCOPES = ["messaging.v1.send", "messaging.v1.read", "identity:scim.me"]


def learner(i: int) -> tuple[str, str]:
    return f"learner{i:03d}@example.com", f"password-{i:03d}"


def main() -> int:
    data_dir, port, users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with serve_in_thread(data_dir, port=port, users=dict(learner(i) for i in range(users))) as sb:
        sb.add_client(
            GOOGLE_CLIENT_ID,
            GOOGLE_CLIENT_SECRET,
            redirect_uris=["http://127.0.0.1:8080/"],  # any port on loopback (RFC 8252 §7.3)
            scopes=SCOPES,
        )
        info = sb.info
        print(
            json.dumps(
                {
                    "url": info.url,
                    "client_id": info.client_id,
                    "client_secret": info.client_secret,
                    "user_email": info.user_email,
                    "user_password": info.user_password,
                    "data_dir": info.data_dir,
                }
            ),
            flush=True,
        )
        sys.stdin.read()  # until the benchmark closes our stdin
    return 0


if __name__ == "__main__":
    sys.exit(main())
