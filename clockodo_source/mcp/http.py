"""The bearer token in front of the HTTP transport: no request reaches the MCP server without
``Authorization: Bearer <mcp.token>``.

A fixed shared token, compared in constant time, is what an MCP client's configuration can
carry (a header in its JSON); the SDK's OAuth machinery would need an authorization server.
"""

from __future__ import annotations

import hmac

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

#: shorter tokens are refused: a token that can be guessed protects nothing
MIN_TOKEN_LENGTH = 16


class BearerToken:
    """ASGI middleware: HTTP requests without the right bearer token get 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(scope):
            refusal = JSONResponse(
                {"error": "invalid_token",
                 "error_description": "send Authorization: Bearer <mcp.token>"},
                status_code=401, headers={"WWW-Authenticate": 'Bearer realm="clockodo-dlt"'})
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        headers = dict(scope.get("headers") or [])
        scheme, _, credential = headers.get(b"authorization", b"").partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credential.strip(),
                                                                   self.token)
