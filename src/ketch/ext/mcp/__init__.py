"""MCP: the servers people already use, sandboxed, without paying for them in tokens (issue 12).

    config.py     Claude-Code-compatible server entries: .mcp.json, user/local settings, --mcp-config
    entries.py    one entry checked, `${VAR}`-expanded and made a ServerConfig; package runners' registries
    scopes.py     the file of each scope: read (a project's safely), edited for `ketch mcp`
    approvals.py  which of a project's servers the person approved (fingerprints, outside the tree)
    transport.py  the Transport Protocol every way of reaching a server implements
    jsonrpc.py    JSON-RPC 2.0 over a Transport: requests, notifications, the server's own requests
    stdio.py      a server started as a process (in the OS sandbox unless the person said otherwise)
    http.py       Streamable HTTP
    http_sse.py   the older HTTP+SSE
    http_common.py  what both share: same-origin redirects, status errors, capped bodies and event streams
    oauth.py      OAuth for remote servers: `ketch mcp auth`'s flow, tokens kept with the credentials, Bearer + refresh
    oauth_discovery.py  protected-resource and authorization-server metadata, checked (https, issuer)
    oauth_flow.py       client registration, PKCE browser step on a 127.0.0.1 listener, token endpoint
    client.py     one server's session: initialize, tools, resources, prompts
    manager.py    every configured server, started concurrently in the background; a ToolSource
    tools.py      McpTool (`mcp__server__tool`) and ToolSearch (schemas loaded on demand)
    serve.py      `ketch mcp serve`: ketch's own tools for an MCP client, through the run's gate and sandbox
    own_stdio.py  the Transport over ketch's own stdin and stdout that serve.py answers on

The official `mcp` SDK is not used at run time: importing its client costs ~0.85 s and takes
ketch's resident size from 29 to 63 MiB (measured here), against a 35 MiB budget
(DESIGN.md §6). Tests use it to build real servers.
"""
