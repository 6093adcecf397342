"""The Discord adapter: translates Discord events for the core and renders what it answers."""
