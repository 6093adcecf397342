"""Tools in threads: MCP servers an admin registered (servers), the MCP client that talks to them (client, the
only module that imports `mcp`), their health (health), what a thread is shown of a call (shown) and what is stored
of a reply's tool rounds (rounds). The loop that lets a model call them while it writes a reply is
core.routing.tool_loop, above routing, which it drives round by round."""
