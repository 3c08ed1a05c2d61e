"""The plumbing strategies share, one job per module (internal; strategies import from here).

    spec.py       strategy specs: parsing, canonical printing
    params.py     typed parameters: validation, normalisation, documentation
    messages.py   building messages: chat, multi-stage prompts, calculation and RAG prompts
    answers.py    reading final answers (option letters, calculations) with their readings
    sampling.py   a sampling view of the model (self-consistency and friends)
    fanout.py     fan-out that cancels on failure, medq's one majority vote
    verdicts.py   intermediate outputs: verdicts, query lists, labelled fields
    retrieval.py  retrieval for the RAG strategies
    exemplars.py  exemplar pools and selection (fixed, random, kNN), self-generated reasoning
"""
