"""The ``http_fetch`` tool: read one web page from a host the administrator allowed.

Off by default: the tool refuses every URL until ``agents_fetch_hosts`` names the hosts
it may read (``docs.example.com``, ``wiki.internal:8080``, or ``*.example.com`` for a
domain's sub-domains), and a team that lists it is refused at start while the list is
empty. What a run's lowest-rights user could do with a fetcher (reach the metadata
service, an admin port on localhost, a host behind a redirect, or exhaust memory) is
closed by checking every URL, redirects included, before it is requested:

* ``http`` or ``https`` only, no user name or password in the URL, and the host (with
  its port when the entry names one; the scheme's default port otherwise) on the list;
* at most ``MAX_REDIRECTS`` redirects, each target checked the same way;
* ``TIMEOUT`` seconds for the whole exchange, at most ``MAX_BYTES`` read (the rest is
  never downloaded), text, HTML or JSON only; HTML is reduced to its text.

The page goes back to the agent through the engine's result screening (instructions
addressed to the model withheld, personal data redacted) like every tool result.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html.parser import HTMLParser
from typing import Any

import httpx

from charter.agents.tools import ToolError

MAX_BYTES = 1_000_000
MAX_REDIRECTS = 3
TIMEOUT = 10.0
TEXT_TYPES = ("text/", "application/json", "application/xhtml+xml", "application/xml")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_hosts(raw: str) -> tuple[str, ...]:
    """The allow-list as the setting gives it (comma-separated), lower-cased."""
    return tuple(h.strip().lower() for h in raw.split(",") if h.strip())


def _allowed(url: httpx.URL, hosts: Sequence[str]) -> str | None:
    """Why ``url`` may not be fetched (None: it may)."""
    if url.scheme not in _DEFAULT_PORTS:
        return f"only http and https URLs may be fetched, not {url.scheme or 'this'!r}"
    if url.userinfo:
        return "a URL with a user name or password is not fetched"
    host = (url.host or "").lower().rstrip(".")
    if not host:
        return "the URL has no host"
    port = url.port or _DEFAULT_PORTS[url.scheme]
    for entry in hosts:
        name, _, entry_port = entry.partition(":")
        wanted = int(entry_port) if entry_port.isdigit() else _DEFAULT_PORTS[url.scheme]
        if port != wanted:
            continue
        if name == host or (name.startswith("*.") and host.endswith(name[1:])):
            return None
    return f"{host}:{port} is not among the hosts this tool may read (agents_fetch_hosts)"


class _Text(HTMLParser):
    SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIP:
            self._skip += 1
        elif tag in ("p", "br", "li", "h1", "h2", "h3", "h4", "tr", "div"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    body = "\n".join(line for line in lines if line)
    title = " ".join(parser.title.split())
    return f"{title}\n\n{body}" if title else body


def fetch(url: str, hosts: Sequence[str], *, transport: httpx.BaseTransport | None = None
          ) -> str:
    """The text of the page at ``url`` (see the module for what is refused)."""
    if not hosts:
        raise ToolError("http_fetch is off: an administrator must set agents_fetch_hosts "
                        "to the hosts it may read")
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise ToolError(f"{url!r} is not a URL") from None
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False, transport=transport,
                      headers={"user-agent": "charter-agent/1"}) as client:
        for _ in range(MAX_REDIRECTS + 1):
            why = _allowed(target, hosts)
            if why:
                raise ToolError(why)
            try:
                with client.stream("GET", target) as resp:
                    if resp.is_redirect and "location" in resp.headers:
                        target = target.join(resp.headers["location"])
                        continue
                    if resp.status_code >= 400:
                        raise ToolError(f"{target.host} answered {resp.status_code}")
                    kind = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                    if kind and not kind.startswith(TEXT_TYPES):
                        raise ToolError(f"the page is {kind}, not text; only text, HTML and "
                                        "JSON are read")
                    body, cut = bytearray(), False
                    for piece in resp.iter_bytes():
                        body.extend(piece)
                        if len(body) > MAX_BYTES:
                            cut = True
                            break
                    text = bytes(body[:MAX_BYTES]).decode(resp.encoding or "utf-8",
                                                          errors="replace")
            except httpx.TimeoutException:
                raise ToolError(f"{target.host} did not answer within {TIMEOUT:.0f} s") from None
            except httpx.HTTPError as exc:
                raise ToolError(f"could not fetch from {target.host}: "
                                f"{type(exc).__name__}") from None
            if kind in ("text/html", "application/xhtml+xml") or re.match(
                    r"[ \t\r\n]*<(?:!doctype|html)", text[:200], re.IGNORECASE):
                text = html_text(text)
            return text + ("\n[... the page was cut at 1 MB]" if cut else "")
    raise ToolError(f"more than {MAX_REDIRECTS} redirects")
