"""FastAPI routers: parse, call one core function, map the result to a schema."""
