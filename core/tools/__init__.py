"""Tools in threads: MCP servers an admin registered (servers), the MCP client that talks to them (client, the
only module that imports `mcp`), their health (health), and the loop that lets a model call them while it writes
a reply (loop), with what a thread is shown of each call (shown) and what is stored of it (rounds)."""
