"""The cloudpickle envelope every payload travels in.

Layout: ``b"FQ"``, one format-version byte, one flags byte, then (when signed) a 32-byte
HMAC-SHA256 of the body, then the cloudpickle body. Decoding checks all of it and raises
:class:`~floq.errors.SerializationError` carrying the raw bytes and the reason.

A secret (``FLOQ_SECRET``) may hold several, comma-separated, for rotation: the first signs,
any of them verifies. Rotating without refusing anything in flight, one restart at a time:
(1) ``FLOQ_SECRET=old,new`` on every process (still signs with ``old``, accepts both);
(2) once all have it, ``new,old`` (signs with ``new``, still accepts ``old``); (3) once nothing
signed with ``old`` can be left (``FLOQ_RESULT_TTL`` later), ``new``.
"""

from __future__ import annotations

import hmac
import pickle
from typing import Any

import cloudpickle

from floq.errors import SerializationError
from floq.tracebacks import dumps_code

MAGIC = b"FQ"
VERSION = 1
_SIGNED = 0x01
_MAC_SIZE = 32


def dumps(
    obj: Any,
    secret: bytes | None = None,
    *,
    what: str = "payload",
    by_reference: bool = False,
    keep_filenames: bool = False,
    with_sources: bool = False,
) -> bytes:
    """Encode ``obj``; ``what`` names it in the error if it cannot be pickled.

    ``by_reference`` tries the standard pickler first (about three times faster), falling back
    to cloudpickle. Use it only where everything the standard pickler stores by reference can
    be imported on the receiving side: for outcomes sent back to the process that submitted
    the call, not for calls, whose functions and classes may live in the sender's ``__main__``.

    For code (tasks, flow calls): ``keep_filenames`` keeps the file names of the code pickled
    by value (cloudpickle names it all ``<dynamic-code>``), so that tracebacks on the receiving
    side show the lines of files it has; ``with_sources`` also ships the source lines of those
    files, for a receiver that does not have them; see :mod:`floq.tracebacks`.
    """
    try:
        body = _fast(obj) if by_reference else None
        if body is None and (keep_filenames or with_sources):
            body = dumps_code(obj, with_sources)
        body = body or cloudpickle.dumps(obj)
    except Exception as error:
        raise SerializationError(
            f"cannot serialize {what}: {type(error).__name__}: {error}"
        ) from error
    if secret is None:
        return MAGIC + bytes((VERSION, 0)) + bytes(body)
    mac = hmac.digest(secret_keys(secret)[0], body, "sha256")  # one-shot: cheaper than new()
    return MAGIC + bytes((VERSION, _SIGNED)) + mac + bytes(body)


def secret_keys(secret: bytes) -> list[bytes]:
    """The keys in a ``FLOQ_SECRET`` value: comma-separated, the first one signs."""
    return [key.strip() for key in secret.split(b",") if key.strip()] or [secret]


def _fast(obj: Any) -> bytes | None:
    try:
        return pickle.dumps(obj, protocol=5)
    except Exception:
        return None


def loads(raw: bytes, secret: bytes | None = None) -> Any:
    """Decode a payload made by :func:`dumps`; with a ``secret``, refuse unsigned or forged ones."""
    if len(raw) < 4 or raw[:2] != MAGIC:
        raise SerializationError("not a floq payload (bad magic bytes)", raw=raw)
    if raw[2] != VERSION:
        raise SerializationError(f"unsupported payload format version {raw[2]}", raw=raw)
    signed = bool(raw[3] & _SIGNED)
    body = raw[4 + _MAC_SIZE :] if signed else raw[4:]
    if secret is not None:
        if not signed:
            raise SerializationError("payload is not signed and FLOQ_SECRET is set", raw=raw)
        mac = raw[4 : 4 + _MAC_SIZE]
        keys = secret_keys(secret)
        if not any(hmac.compare_digest(hmac.digest(key, body, "sha256"), mac) for key in keys):
            raise SerializationError(
                "payload was signed with a different FLOQ_SECRET than this process's "
                f"({len(keys)} secret(s) tried)",
                raw=raw,
            )
    try:
        return cloudpickle.loads(body)
    except Exception as error:
        raise SerializationError(
            f"cannot deserialize payload: {type(error).__name__}: {error}", raw=raw
        ) from error
