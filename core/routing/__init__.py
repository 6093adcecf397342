"""Which model answers a turn and how it is called: the per-scope policy that picks a model and says whether it
may (policy), the walk down the fallback chain with per-error rules (route), and the budget interface routing
uses (budget; the budgets themselves are core.budgets). Calling a provider is core.providers.llm."""
