"""The GraphQL API: a strawberry schema on starlette, with tokens and limits."""
