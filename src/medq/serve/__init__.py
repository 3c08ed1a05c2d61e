"""`medq serve`: evaluated pipelines behind an authenticated, OpenAI-compatible API.

A pipeline is what `medq eval` measured (strategy + backend + corpus) plus an abstention
rule; the server answers ``POST /v1/chat/completions`` with it, adding a ``medq`` object
(answer, confidence and how it was computed, votes, abstention, citations, pipeline hash,
calls), checks keys, scopes and per-key limits before any upstream call, and leaves one
hash-chained audit row per request. The page for clinicians is at ``/``.

Modules, one job each: `config` (the TOML file), `keys`, `limits`, `audit`, `questions`
(reading a question from a request), `evidence` (the snippets behind an answer),
`pipeline` (running a strategy for one question), `reply` (abstention and the reply's
text), `service` (one request, start to end), `wire` (the request and reply schemas),
`app` (the FastAPI routes; needs ``medq[serve]``), `page`, `calibrate`, `cli`.

Example:
    >>> from medq.serve.app import create_app
    >>> app = create_app("serve.toml")   # then: uvicorn.run(app, host="127.0.0.1")
"""
