"""Serve stage: the OpenAI-compatible HTTP server with collections, API keys and a web page
(:mod:`ponder.serve.app`), and the MCP server (:mod:`ponder.serve.mcp`)."""
