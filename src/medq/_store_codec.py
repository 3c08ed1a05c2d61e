"""How the store writes its larger values compactly, and reads back every form it wrote.

Since migration ``m007_compact_rows`` the JSON a row carries (a call's request and
response, an item's details and reading) is stored as a BLOB: a one-byte format tag and
the canonical JSON deflated against a fixed dictionary of medq's own JSON vocabulary (key
names and structural fragments, never a benchmark's words), so the key names a thousand
rows repeat cost a few bits each. Call keys are stored as their 32 raw SHA-256 bytes, an
item's call keys as those bytes concatenated, and an item's response, when it is the text
of one of its calls' generations, as a reference to that generation. Every form decodes
to exactly the text (or keys) that was encoded; older rows (JSON text, hex keys) read as
they are. The dictionary and the tags are frozen: a new form is a new tag, and every tag
stays readable.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from typing import Any

_JSON = 1  # deflated canonical JSON (dictionary V1)
_KEYS = 2  # call keys: 32 bytes each
_REF = 3  # a response that is generation `g` of the item's call number `c`

# Frozen: changing one byte makes every row written with it unreadable. Most frequent
# fragments last (deflate reaches the end of its dictionary with the shortest distances).
_DICTIONARY_V1 = (
    b'"tool_choice":"auto","tools":[{"function":{"description":"","name":"","parameters":'
    b'{"properties":{},"required":[],"type":"object"}},"type":"function"}]'
    b'"tool_calls":[{"arguments":{},"id":"call_","name":""}]'
    b'"top":[[' b'"token":"' b'"logprob":-' b'"assistant"' b'"images":[{"mime":"image/png",'
    b'"sha256":"' b'"continuations":[' b'"scores":[{"logprob":-' b'"greedy":true,"n_tokens":'
    b'{"rule":"vote","args":{"order":["A","B","C","D"],"details":{' b'"parts":[{'
    b'{"rule":"fixed","text":' b'"back":{"A":"' b'"B":"' b'"C":"' b'"D":"' b'"E":"'
    b'"rescore":"kept from extractor ' b'"votes":{' b'"invalid_reason":"no_answer",'
    b'"languages_without_lexicon":[' b'"detail":"' b'"method":"bare_letter"'
    b'"method":"json"' b'"method":"option_text"' b'"finish_reason":"length",'
    b'"truncated":true' b'"metadata":{}' b'"language":"en"' b'"subject":"' b'"source":"'
    b'"model":"' b'"completion_tokens":' b'"prompt_tokens":'
    b'{"completion_tokens":1,"generations":[{"finish_reason":"stop","logprobs":null,"text":"'
    b'"}],"model":"' b'","prompt_tokens":1}'
    b'{"logprobs":false,"max_tokens":null,"messages":[{"content":{"$text":"'
    b'"},"role":"system"},{"content":{"$text":"' b'"},"role":"user"},{"content":"'
    b'","role":"assistant"}],"n":1,"sample_index":0,"seed":0,"stop":[],'
    b'"temperature":0.0,"top_logprobs":null}'
    b'{"languages":["en"],"metadata":{"' b'"},"method":"answer_line","span":[1'
    b'{"args":{"languages":["en"],"options":{"$text":"' b'"}},"call":"'
    b'","index":0,"rule":"choice"}'
)


def pack_json(text: str) -> bytes:
    """Canonical JSON text as its compact BLOB."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=_DICTIONARY_V1)
    return bytes((_JSON,)) + packer.compress(text.encode()) + packer.flush()


def unpack_json(value: str | bytes) -> str:
    """The JSON text of a stored value (older rows hold the text itself)."""
    if isinstance(value, str):
        return value
    if value[:1] != bytes((_JSON,)):
        raise ValueError(f"not a packed JSON value (tag {value[:1]!r})")
    unpacker = zlib.decompressobj(-15, zdict=_DICTIONARY_V1)
    return (unpacker.decompress(value[1:]) + unpacker.flush()).decode()


def key_bytes(key: str) -> bytes | str:
    """A call key as stored: its 32 raw bytes (a key that is not SHA-256 hex stays text)."""
    if len(key) == 64:
        try:
            return bytes.fromhex(key)
        except ValueError:
            pass
    return key


def key_text(value: str | bytes) -> str:
    """Inverse of `key_bytes`."""
    return value.hex() if isinstance(value, bytes) else value


def pack_keys(keys: Sequence[str]) -> bytes | None:
    """An item's call keys as one BLOB, or None when one is not SHA-256 hex."""
    raw = [key_bytes(k) for k in keys]
    if not all(isinstance(k, bytes) and len(k) == 32 for k in raw):
        return None
    return bytes((_KEYS,)) + b"".join(raw)  # type: ignore[arg-type]


def unpack_keys(value: bytes) -> list[str]:
    """Inverse of `pack_keys`."""
    if value[:1] != bytes((_KEYS,)) or (len(value) - 1) % 32:
        raise ValueError("not a packed list of call keys")
    return [value[i:i + 32].hex() for i in range(1, len(value), 32)]


def response_ref(call: int, generation: int) -> bytes:
    """The stored form of a response that is generation `generation` of the item's call
    number `call` (in the order of its call keys)."""
    return bytes((_REF,)) + call.to_bytes(2, "big") + generation.to_bytes(2, "big")


def unpack_response_ref(value: bytes) -> tuple[int, int]:
    """Inverse of `response_ref`: (call number, generation)."""
    if value[:1] != bytes((_REF,)) or len(value) != 5:
        raise ValueError("not a response reference")
    return int.from_bytes(value[1:3], "big"), int.from_bytes(value[3:5], "big")


def _m007_pack(value: str | bytes | None) -> bytes | None:
    return pack_json(value) if isinstance(value, str) else value


def _m007_key(value: str | bytes) -> str | bytes:
    return key_bytes(value) if isinstance(value, str) else value


def _m007_keys(value: str | bytes) -> str | bytes:
    if not isinstance(value, str):
        return value
    return pack_keys(json.loads(value)) or value


def _m007_ref(keys: str, call_key: str | None, generation: int | None) -> bytes | None:
    if call_key is None or generation is None:
        return None
    listed = json.loads(keys)
    if call_key not in listed or generation >= 1 << 16 or listed.index(call_key) >= 1 << 16:
        return None  # the migration falls back to the generation's text
    return response_ref(listed.index(call_key), generation)


MIGRATION_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "m007_pack": (1, _m007_pack),
    "m007_key": (1, _m007_key),
    "m007_keys": (1, _m007_keys),
    "m007_ref": (3, _m007_ref),
}
"""SQL functions the migrations call (name: (arguments, function)); each is frozen with
the migration that uses it."""
