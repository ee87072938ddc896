"""Google Workspace connections: per account, a service account key with domain-wide
delegation and the administrator it acts as (``/rest/v2/domains/google/connection``).

The domain package manages Workspace users through :func:`service.workspace_for`.
"""
