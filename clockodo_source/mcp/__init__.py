"""The MCP server: AI agents read the loaded Clockodo dataset, run its reports and alerts,
draft invoices and (only when allowed) mark time billed, through the official ``mcp`` SDK.

``clockodo_source.mcp.server`` needs the ``mcp`` extra (``pip install 'clockodo-dlt[mcp]'``);
the guard of the ``query`` tool (``clockodo_source.mcp.guard``) does not.
"""
