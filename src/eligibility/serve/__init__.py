"""`eligibility serve`: the HTTP service (Starlette, served by uvicorn; the `serve` extra).

A layer beside audit, testing and scale: it uses the engine and nothing above it.
`app.create_app` builds the ASGI app, `run.serve` runs it; docs/how-to/call-the-service.md.
"""
