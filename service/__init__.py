"""learndyn: the learning dynamics of backpropagation (Sontag 1988) as a REST service.

The house (DESIGN §2; ``tests/test_import_graph.py`` holds every module to it):

* :mod:`service.core` — pure numerics in three layers, ``model`` (what E is), ``engine`` (how
  the weights move) and ``analysis`` (what a run or a dataset means), composed by
  :mod:`service.core.training` (/train in one call) and :mod:`service.core.queries`;
* :mod:`service.schemas` — the pydantic requests and responses (no numpy), shared with the
  client;
* :mod:`service.api` — thin routers: validate, one core call, map
  (:mod:`service.api.mapping`), with one error model (:mod:`service.api.problems`);
* :mod:`service.figures` — drawings of the answers;
* :mod:`service.limits`, :mod:`service.vocabulary` — the limits table and the named
  choices, stdlib only, read by core and schemas alike;
* :mod:`service.settings`, :mod:`service.app`, :mod:`service.cli` — configuration, the app,
  the ``learndyn`` command.
"""
