"""The logic behind the GoTo OAuth notebooks: one small module per stage of the tutorial.

    connect        which authorization server: GoTo, the class hub's, or the local sandbox
    config         stage 1: .env -> OAuthConfig, read and checked
    authorization  stage 2: AuthorizationRequest (URL, state, PKCE pair)
    callback       stage 3: CallbackListener, a background-thread server on the redirect URI
    tokens         stage 4: exchange, refresh, revoke; Token and TokenStore (token_store)
    api            calling GoTo-style APIs with the bearer token
    errors         every failure a learner can cause, by name (one module per stage)

The widgets (``helpers.ui``) and the local sandbox (``helpers.sandbox``) are imported only
when used, so ``import helpers`` stays light. In a notebook, importing it also shows the
tutorial's errors as their message, the traceback folded away (``error_display``), and notes
how long each cell waited to run (``cell_clock``, for ``RepeatedSignIn``).
"""

from . import cell_clock, error_display
from .errors import OAuthTutorialError

cell_clock.watch()  # first: the lag of this cell, which has only just started (cell_clock.py)
error_display.install()

__all__ = ["OAuthTutorialError"]
