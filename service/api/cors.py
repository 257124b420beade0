"""CORS as Starlette does it, with a refused preflight answered as problem+json.

Starlette's ``CORSMiddleware`` answers a preflight from an origin, method or header it does not
allow with 400 ``text/plain`` ("Disallowed CORS origin"); this subclass keeps the status, the
words and the headers, and sends the body as every other error of the service.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from service.api.problems import problem_response


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS middleware whose refused preflights are problem+json."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        detail = bytes(response.body).decode()
        problem = problem_response(
            response.status_code, f"{detail} (allowed: LEARNDYN_CORS_ORIGINS)"
        )
        for name, value in response.headers.items():
            if name not in ("content-type", "content-length"):
                problem.headers[name] = value
        return problem
