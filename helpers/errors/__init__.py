"""Every failure a learner can cause, as a named exception, grouped by stage.

Each message says what happened and what to do next, in a sentence or two. Catch
``OAuthTutorialError`` to catch them all; import any of them from here (``helpers.errors``).

    config      ConfigError (stage 1), ClassroomError (the class hub)
    callback    stage 3: AuthorizationDenied, StateMismatch, CallbackTimeout, PortInUse, ...
    token       stage 4: InvalidGrant, InvalidClient, ...; NoSavedToken, TokenExpired
    api         stage 5: InvalidToken, InsufficientScope
    connection  any stage: ServiceUnreachable, ServiceTimeout, UnexpectedResponse
    sandbox     SandboxError, SandboxStopped
"""

from .api import ApiError, InsufficientScope, InvalidToken
from .base import OAuthTutorialError
from .callback import (
    AuthorizationDenied,
    AuthorizationFailed,
    CallbackError,
    CallbackTimeout,
    CannotListen,
    InvalidCallbackAddress,
    ListenerStopped,
    PortInUse,
    RepeatedSignIn,
    StateMismatch,
)
from .config import ClassroomError, ConfigError
from .connection import ServiceTimeout, ServiceUnreachable, UnexpectedResponse
from .sandbox import SandboxError, SandboxStopped
from .token import (
    TOKEN_ERRORS,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    NoSavedToken,
    ServerError,
    TemporarilyUnavailable,
    TokenError,
    TokenExpired,
    UnauthorizedClient,
    UnsupportedGrantType,
)

__all__ = [
    "OAuthTutorialError",
    "ConfigError",
    "ClassroomError",
    "CallbackError",
    "AuthorizationDenied",
    "AuthorizationFailed",
    "CallbackTimeout",
    "PortInUse",
    "StateMismatch",
    "ListenerStopped",
    "CannotListen",
    "InvalidCallbackAddress",
    "RepeatedSignIn",
    "TokenError",
    "InvalidGrant",
    "InvalidClient",
    "InvalidScope",
    "InvalidRequest",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "TemporarilyUnavailable",
    "ServerError",
    "NoSavedToken",
    "TokenExpired",
    "TOKEN_ERRORS",
    "ApiError",
    "InvalidToken",
    "InsufficientScope",
    "ServiceUnreachable",
    "ServiceTimeout",
    "UnexpectedResponse",
    "SandboxError",
    "SandboxStopped",
]
