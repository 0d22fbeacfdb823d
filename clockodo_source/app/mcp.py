"""`clockodo-pipeline mcp`: serve the loaded dataset to AI agents over MCP.

The dataset is the one every other command uses (`--destination`, `--dataset`,
`--pipeline-name`). Over stdio (the default) the MCP client starts this command itself; over
streamable HTTP (`--transport http`) it listens on loopback unless `--host` says otherwise,
and every request must carry `Authorization: Bearer <mcp.token>`: without a token in config
(`[mcp] token` in .dlt/secrets.toml, env MCP__TOKEN) it refuses to start. `mark_billed` is
offered only with `--allow-write`. Problems before serving are one line on stderr, exit 1.
"""

from __future__ import annotations

import argparse
import sys

import dlt

from clockodo_source.app.messages import describe_failure
from clockodo_source.app.pipelines import make_pipeline
from clockodo_source.errors import ConfigurationError

TRANSPORTS = ("stdio", "http")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8808


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transport", choices=TRANSPORTS, default="stdio",
                        help="stdio (the client starts the server) or streamable HTTP")
    parser.add_argument("--host", default=DEFAULT_HOST, help="HTTP: address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="HTTP: port to listen on (0: any free port)")
    parser.add_argument("--allow-write", action="store_true",
                        help="offer the mark_billed tool (marks time billed in Clockodo)")


def mcp_command(args: argparse.Namespace) -> int:
    try:
        token = _token() if args.transport == "http" else None
        make_pipeline(args.pipeline_name, args.destination, args.dataset)  # refuses bad names
        from clockodo_source.mcp.server import build_server, serve_http, serve_stdio
        from clockodo_source.mcp.tools import Tools, Warehouse
    except ImportError as missing:
        return _failed(ConfigurationError(
            f"the MCP server needs the mcp extra ({missing.name} is missing): "
            "pip install 'clockodo-dlt[mcp]'"), args.verbose)
    except Exception as exc:
        return _failed(exc, args.verbose)
    tools = Tools(Warehouse(args.pipeline_name, args.destination, args.dataset), args.verbose)
    server = build_server(tools, allow_write=args.allow_write)
    if token is None:
        serve_stdio(server)
        return 0
    try:
        serve_http(server, args.host, args.port, token, _announce)
    except OSError as exc:
        return _failed(ConfigurationError(f"cannot listen on {args.host}:{args.port}: "
                                          f"{exc.strerror or exc}"), args.verbose)
    return 0


def _token() -> str:
    """The bearer token from config; refusing to serve HTTP without one."""
    from clockodo_source.mcp.http import MIN_TOKEN_LENGTH

    token: str | None = dlt.config.get("mcp.token")
    if not token:
        raise ConfigurationError(
            "the MCP server over HTTP needs a bearer token: set token under [mcp] in "
            ".dlt/secrets.toml (or env MCP__TOKEN); clients then send "
            "Authorization: Bearer <token>")
    if len(str(token)) < MIN_TOKEN_LENGTH:
        raise ConfigurationError(f"mcp.token is too short: use at least {MIN_TOKEN_LENGTH} "
                                 "random characters (e.g. python -c \"import secrets; "
                                 "print(secrets.token_urlsafe(32))\")")
    return str(token)


def _announce(url: str) -> None:
    print(f"clockodo-pipeline: MCP server listening on {url} (streamable HTTP; requests need "
          "Authorization: Bearer <mcp.token>)", file=sys.stderr, flush=True)


def _failed(exc: Exception, verbose: bool) -> int:
    if verbose:
        raise exc
    print(f"clockodo-pipeline: error: {describe_failure(exc)}", file=sys.stderr)
    return 1
