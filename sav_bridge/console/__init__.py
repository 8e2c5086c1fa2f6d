"""The compliance console's API (`/api/v1/`): policy versions, decisions, the administration log.

`auth` checks the identity provider's JWTs and maps their groups to roles; `api` holds the routes.
"""
