"""The MCP server: the tools registered with the official SDK's ``MCPServer``, served over
stdio (the client starts the process) or streamable HTTP behind a bearer token.

``mark_billed`` is registered only when writing is allowed: without ``--allow-write`` an agent
does not even see it.
"""

from __future__ import annotations

import inspect
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from clockodo_source.mcp.http import BearerToken
from clockodo_source.mcp.tools import Tools

NAME = "clockodo-dlt"
PATH = "/mcp"
_READS = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                         open_world_hint=False)
_DIALECTS = {"duckdb": "DuckDB", "postgres": "PostgreSQL"}
_WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                          open_world_hint=True)


def instructions(tools: Tools) -> str:
    """What the model reads about the server as a whole."""
    warehouse = tools.warehouse
    dialect = _DIALECTS.get(warehouse.destination, warehouse.destination)
    return (
        f"A Clockodo time-tracking account loaded by clockodo-dlt into {dialect} (dataset "
        f"{warehouse.dataset}): its whole history of time entries, projects, customers, users, "
        "teams, absences, target hours and Clockodo's user reports, plus models computed after "
        "each load. Hours are decimal hours, money is in the account's currency, timestamps "
        "are UTC, months and weeks follow the account's calendar. Unbilled time is "
        "entries.billable = 1, billed is 2. Use report for the standard figures (unbilled, "
        "utilization, budgets, overtime), invoice for invoice drafts, alerts for what needs "
        f"attention, status for how fresh the data is, and query for any other question (one "
        f"read-only {dialect} SELECT over the tables list_tables names)."
    )


def build_server(tools: Tools, allow_write: bool = False) -> MCPServer:
    server: MCPServer = MCPServer(NAME, instructions=instructions(tools), log_level="WARNING")
    reads: list[Callable[..., Any]] = [tools.list_tables, tools.describe_table, tools.query,
                                       tools.report, tools.alerts, tools.status, tools.invoice]
    for tool in reads:
        _add(server, tool, _READS)
    if allow_write:
        _add(server, tools.mark_billed, _WRITES)
    return server


def _add(server: MCPServer, tool: Callable[..., Any], annotations: ToolAnnotations) -> None:
    server.add_tool(tool, description=inspect.cleandoc(tool.__doc__ or ""),
                    annotations=annotations)


def serve_stdio(server: MCPServer) -> None:
    server.run("stdio")


def serve_http(server: MCPServer, host: str, port: int, token: str,
               announce: Callable[[str], None]) -> None:
    """Streamable HTTP at ``http://host:port/mcp``; every request needs the bearer token.

    The socket is bound before ``announce`` names the address, so port 0 (any free port)
    is announced with the port it got.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(128)
    bound = listener.getsockname()[1]
    app = BearerToken(server.streamable_http_app(streamable_http_path=PATH, host=host), token)
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    announce(f"http://{shown}:{bound}{PATH}")
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[listener])
