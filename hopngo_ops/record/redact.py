"""Redaction: known secret values, and text shaped like a secret, become `***REDACTED***`."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from urllib.parse import quote

REDACTED = "***REDACTED***"
# Names of variables, parameters and keys whose value is a secret.
SECRET_NAME = re.compile(r"(?i)(password|passwd|secret|token|api_?key|credential|private_?key)")

# Each pattern's group "secret" is what is replaced; the rest says why it is a secret.
SECRET_SHAPES = [
    # Credentials in a URL: postgres://user:pass@host, amqp://user:pass@host
    re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]+:(?P<secret>[^\s@/'\"]+)@"),
    # password=..., "token": "...", api_key: ..., AWS_SECRET_ACCESS_KEY=...
    re.compile(
        r"(?i)\b[\w-]*?(?:password|passwd|pwd|secret|token|api_?key|access_?key|secret_?key)"
        r"\b[\"']?\s*[=:]\s*[\"']?(?P<secret>[^\s\"'&;,}<]+)"
    ),
    # A Kubernetes env entry in YAML (a deployment diff): the value under a secret name.
    re.compile(
        r"(?i)name:\s*[\w.-]*(?:password|passwd|secret|token|api_?key|credential)[\w.-]*\s*\n"
        r"[+\- ]?\s*value:\s*[\"']?(?P<secret>[^\s\"']+)"
    ),
    # The same entry as JSON (kubectl's last-applied-configuration annotation).
    re.compile(
        r'(?i)"name"\s*:\s*"[^"]*(?:password|passwd|secret|token|api_?key|credential)[^"]*"'
        r'\s*,\s*"value"\s*:\s*"(?P<secret>[^"]*)"'
    ),
    # SQL setting a password (a session's query in pg_stat_activity): PASSWORD 'x'.
    re.compile(r"(?i)\bpassword\s+'(?P<secret>[^']+)'"),
    re.compile(r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9._~+/-]+=*)"),
    re.compile(r"(?P<secret>\b(?:AKIA|ASIA)[0-9A-Z]{16}\b)"),
    # A JSON Web Token: three base64url parts, the first two JSON objects ("eyJ").
    re.compile(r"(?P<secret>\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,})"),
    re.compile(
        r"(?P<secret>-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----)",
        re.DOTALL,
    ),
    # A standalone base64 blob of 30 to 120 bytes mixing cases and digits (a generated key,
    # e.g. `openssl rand -base64 64`). Longer runs are data (images), hex is hashes and ids.
    re.compile(
        r"(?<![\w+/=,-])(?P<secret>(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])"
        r"(?=[A-Za-z0-9+/]*[0-9])[A-Za-z0-9+/]{40,160}={0,2})(?![\w+/=-])"
    ),
]


class Redactor:
    """Replaces the given secret values, in every form they are written in, and secret shapes."""

    def __init__(self, values: Iterable[str] = ()):
        forms = {
            form
            for value in values
            for form in (value, html.escape(value), json.dumps(value)[1:-1], quote(value, safe=""))
        }
        # Longest first: a value that contains another is replaced whole.
        ordered = sorted(forms, key=len, reverse=True)
        self._values = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def text(self, text: str) -> str:
        if self._values is not None:
            text = self._values.sub(REDACTED, text)
        for shape in SECRET_SHAPES:
            text = shape.sub(_replace_secret, text)
        return text

    def data(self, value, *, keep=lambda key: False):
        """`value` (JSON-like) with every string redacted, except under keys `keep` accepts.

        A string under a secret-sounding key (`api_token`, `password`) is redacted whole,
        however short.
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            if SECRET_NAME.search(str(value.get("name", ""))) and value.get("value"):
                # A Kubernetes env entry {"name": "DB_PASSWORD", "value": "..."}.
                value = {**value, "value": REDACTED}
            return {k: self._item(k, v, keep) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v, keep=keep) for v in value]
        return value

    def _item(self, key, value, keep):
        if keep(key):
            return value
        if isinstance(value, str) and value and SECRET_NAME.search(str(key)):
            return REDACTED
        return self.data(value, keep=keep)

    def notebook(self, nb):
        """A copy of notebook `nb` redacted; images stay, being pixels, not text."""
        import nbformat

        return nbformat.from_dict(self.data(nb, keep=lambda key: key.startswith("image/")))


def _replace_secret(match: re.Match) -> str:
    start, end = match.span("secret")
    whole = match.group(0)
    offset = match.start()
    return whole[: start - offset] + REDACTED + whole[end - offset :]
