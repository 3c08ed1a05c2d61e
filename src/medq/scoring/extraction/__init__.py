"""The answer extractor's parts, one job a module (the public API is `medq.scoring.extract`).

- `text`: one length-preserving view of a response (width forms folded, reasoning blocks
  and markup blanked), so every offset found is an offset into what the model wrote;
- `lexicon`: the per-language phrase files in ``medq/scoring/lexicons/``;
- `labels`: a question's option labels (A-E, a-e, 1-5, I-V, another script's letters)
  and texts;
- `values`: what the words at a position name (a label, an option's text, yes/no);
- `statements` and `lines`: where a response states, denies or withdraws an answer;
- `commitment`: what each statement does, and which one decides;
- `reading`: a response read end to end.
"""
