"""How learndyn meets the network: what uvicorn runs with, and what it does not do itself.

* :mod:`~service.server.budget`: the file-descriptor limit, raised to the hard limit at start,
  and the connection cap and listen backlog sized to fit in it.
* :mod:`~service.server.protocol`: uvicorn's h11 protocol with a connection cap, a header read
  timeout, bounded request heads, unambiguous framing and problem+json errors.
* :mod:`~service.server.log_limits`: exhaustion and protocol warnings logged once per interval,
  with a count, not once per connection.
* :mod:`~service.server.options`: the keyword arguments of ``uvicorn.run``, from the settings.

The body read timeout is an ASGI middleware (:mod:`service.api.body_timeout`): only the
application knows when it reads a body.
"""
