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
* the host's addresses are resolved first: link-local ones (the cloud metadata service),
  multicast, unspecified and reserved ones are never reached, loopback only when the
  list names a loopback address (or ``localhost``) itself; private ones are (an allowed
  intranet host). A name whose DNS changes between this check and the connection
  (rebinding) is a remaining risk, limited to hosts the administrator listed;
* ``TIMEOUT`` seconds for the whole exchange, redirects and a slowly trickling body
  included, at most ``MAX_BYTES`` read (the rest is never downloaded), no compressed
  bodies (asked for ``identity``; a compressed one is refused, so nothing expands past
  the limit), text, HTML or JSON only; HTML is reduced to its text.

The page goes back to the agent through the engine's result screening (instructions
addressed to the model withheld, personal data redacted) like every tool result.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Sequence

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


def _allowed(url: httpx.URL, hosts: Sequence[str]) -> tuple[str | None, str]:
    """Why ``url`` may not be fetched (None: it may), and the allow-list entry it matched."""
    if url.scheme not in _DEFAULT_PORTS:
        return f"only http and https URLs may be fetched, not {url.scheme or 'this'!r}", ""
    if url.userinfo:
        return "a URL with a user name or password is not fetched", ""
    host = (url.host or "").lower().rstrip(".")
    if not host:
        return "the URL has no host", ""
    port = url.port or _DEFAULT_PORTS[url.scheme]
    for entry in hosts:
        if entry.startswith("["):  # an IPv6 address, [::1] or [::1]:8080
            name, _, entry_port = entry[1:].partition("]")
            entry_port = entry_port.lstrip(":")
        elif entry.count(":") == 1:
            name, _, entry_port = entry.partition(":")
        else:
            name, entry_port = entry, ""
        wanted = int(entry_port) if entry_port.isdigit() else _DEFAULT_PORTS[url.scheme]
        if port != wanted:
            continue
        if name == host or (name.startswith("*.") and host.endswith(name[1:])):
            return None, name
    return f"{host}:{port} is not among the hosts this tool may read (agents_fetch_hosts)", ""


def _literal(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None


def _addresses_refused(url: httpx.URL, entry: str) -> str | None:
    """Why the addresses ``url``'s host resolves to may not be reached (None: they may).
    Link-local (the cloud metadata service), multicast, unspecified and reserved
    addresses never are; loopback only when the entry itself names a loopback address
    or ``localhost``; private ones are (an allowed intranet host)."""
    host = url.host or ""
    port = url.port or _DEFAULT_PORTS[url.scheme]
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError, OSError):
        return f"{host} could not be resolved"
    listed = _literal(entry)
    loopback_listed = entry == "localhost" or (listed is not None and listed.is_loopback)
    for raw in found:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
        mapped = getattr(address, "ipv4_mapped", None)
        address = mapped or address
        if address.is_link_local or address.is_multicast or address.is_unspecified or \
                address.is_reserved:
            return f"{host} resolves to {address}, an address this tool never reads"
        if address.is_loopback and not loopback_listed:
            return (f"{host} resolves to {address} (this machine); list that address itself "
                    "to allow it")
    return None


SKIPPED = ("script", "style", "noscript", "template", "svg", "object")


def html_text(html: str) -> str:
    """The text of an HTML page: its title, then its text a line per element, scripts,
    styles and comments left out. Parsed by lxml (through BeautifulSoup), which reads
    any markup in one pass; Python's html.parser is quadratic on unclosed tags on this
    Python, as the knowledge base's HTML loader notes."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    for tag in soup(list(SKIPPED)):
        tag.decompose()
    title = ""
    if soup.title is not None:
        title = " ".join(soup.title.get_text(" ").split())
        soup.title.decompose()
    lines = (" ".join(line.split()) for line in soup.get_text("\n").splitlines())
    body = "\n".join(line for line in lines if line)
    return f"{title}\n\n{body}" if title else body


def fetch(url: str, hosts: Sequence[str], *, timeout: float = TIMEOUT) -> str:
    """The text of the page at ``url`` (see the module for what is refused)."""
    if not hosts:
        raise ToolError("http_fetch is off: an administrator must set agents_fetch_hosts "
                        "to the hosts it may read")
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise ToolError(f"{url!r} is not a URL") from None
    deadline = time.monotonic() + timeout

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ToolError(f"{target.host} did not send the page within {timeout:.0f} s")
        return remaining

    # No compressed bodies (a small one can expand past any limit), no proxy or netrc
    # from the environment: the request goes where the check said.
    with httpx.Client(follow_redirects=False, trust_env=False,
                      headers={"user-agent": "charter-agent/1",
                               "accept-encoding": "identity"}) as client:
        for _ in range(MAX_REDIRECTS + 1):
            why, entry = _allowed(target, hosts)
            if why is None:
                why = _addresses_refused(target, entry)
            if why:
                raise ToolError(why)
            try:
                with client.stream("GET", target, timeout=left()) as resp:
                    if resp.is_redirect and "location" in resp.headers:
                        target = target.join(resp.headers["location"])
                        continue
                    if resp.status_code >= 400:
                        raise ToolError(f"{target.host} answered {resp.status_code}")
                    encoding = resp.headers.get("content-encoding", "identity").lower()
                    if encoding not in ("", "identity"):
                        raise ToolError(f"{target.host} sent a {encoding}-compressed page "
                                        "although asked not to; it is not read")
                    kind = resp.headers.get("content-type", "").split(";")[0].strip().lower()
                    if kind and not kind.startswith(TEXT_TYPES):
                        raise ToolError(f"the page is {kind}, not text; only text, HTML and "
                                        "JSON are read")
                    body, cut = bytearray(), False
                    for piece in resp.iter_raw():
                        left()
                        body.extend(piece)
                        if len(body) > MAX_BYTES:
                            cut = True
                            break
                    text = bytes(body[:MAX_BYTES]).decode(resp.encoding or "utf-8",
                                                          errors="replace")
            except httpx.TimeoutException:
                raise ToolError(f"{target.host} did not answer within {timeout:.0f} s") from None
            except httpx.HTTPError as exc:
                raise ToolError(f"could not fetch from {target.host}: "
                                f"{type(exc).__name__}") from None
            if kind in ("text/html", "application/xhtml+xml"):
                text = html_text(text)
            return text + ("\n[... the page was cut at 1 MB]" if cut else "")
    raise ToolError(f"more than {MAX_REDIRECTS} redirects")
