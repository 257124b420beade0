"""FastAPI routers: validate, make one core call, map the result to a schema.

A route handler is a few lines: pydantic validates the body, :mod:`service.api.mapping` turns
it into the core's spec, one function of :mod:`service.core` computes, and
:mod:`service.api.mapping` turns the result into the response schema. No router imports
another; core errors become problem+json in one place, :mod:`service.api.problems`.
Dependencies (settings, the budget of a computation, the API key and the compute slots) are
in :mod:`service.api.dependencies` and :mod:`service.api.guards`.
"""
