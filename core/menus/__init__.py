"""What people are offered to pick from, in chat, the CLI and the admin: the model listing with its one filter
language (`!models`, `/models`, `switchboard models list`, the admin's registry), and ranked picks for
autocomplete and model menus. Above routing: what is offered in a place follows that place's policy."""
