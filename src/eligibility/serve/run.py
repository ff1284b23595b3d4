"""Running the service with uvicorn: where it listens, the token it requires, TLS and the log."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import stat
from collections.abc import Mapping
from pathlib import Path

from eligibility.base.version import __version__
from eligibility.engine.runtime import Engine
from eligibility.serve.body import Limits
from eligibility.serve.logs import configure, log

TOKEN_ENV = "ELIGIBILITY_TOKEN"
#: The shortest token accepted: a guessable token would make the service open in all but name.
MIN_TOKEN = 16
NEW_TOKEN = "python -c \"import secrets; print(secrets.token_urlsafe(32))\""


class ServeError(Exception):
    """The service cannot start as asked; the message says why and what to do."""


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (127.0.0.0/8, ::1) or `localhost`."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_token(token: str, where: str) -> str:
    if len(token) < MIN_TOKEN:
        raise ServeError(f"the token from {where} is {len(token)} characters long; use at least {MIN_TOKEN} "
                         f"random characters, e.g. from: {NEW_TOKEN}")
    if not all(33 <= ord(c) < 127 for c in token):
        raise ServeError(f"the token from {where} must be printable ASCII without spaces")
    return token


def resolve_token(token_file: Path | None, no_auth: bool, host: str,
                  environ: Mapping[str, str] | None = None) -> str | None:
    """Return the bearer token to require, or None for --no-auth (on a loopback address only).

    The token comes from `token_file` (its first line), else from $ELIGIBILITY_TOKEN.

    Raises:
        ServeError: --no-auth on an address that is not loopback, --no-auth with a token, no
            token at all, or a token that is too short or unreadable.
    """
    env = os.environ if environ is None else environ
    if no_auth:
        if token_file is not None:
            raise ServeError("--no-auth and --token-file contradict each other; give one")
        if not is_loopback(host):
            raise ServeError(f"--no-auth is refused on {host}: without a token anyone who can reach that address "
                             "could read and submit personal data. Bind to 127.0.0.1 (the default), or keep "
                             f"the token (--token-file FILE or ${TOKEN_ENV})")
        return None
    if token_file is not None:
        try:
            text = token_file.read_text(encoding="utf-8")
            mode = token_file.stat().st_mode
        except (OSError, UnicodeDecodeError) as e:
            raise ServeError(f"cannot read the token file {token_file}: {getattr(e, 'strerror', None) or e}") from None
        lines = text.splitlines()
        token = _check_token(lines[0].strip() if lines else "", str(token_file))
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            log(logging.WARNING, "the token file can be read by other users; chmod 600 it", file=str(token_file))
        return token
    from_env = env.get(TOKEN_ENV)
    if from_env:
        return _check_token(from_env.strip(), f"${TOKEN_ENV}")
    raise ServeError(f"the service needs a bearer token: --token-file FILE or ${TOKEN_ENV} "
                     f"(make one with: {NEW_TOKEN}); --no-auth is allowed on a loopback address only")


def bind(host: str, port: int) -> socket.socket:
    """Open the listening socket (port 0: a free port the system picks)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise ServeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    try:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


def serve(engine: Engine, *, host: str = "127.0.0.1", port: int = 8000, token: str | None,
          limits: Limits | None = None, ssl_certfile: str | None = None, ssl_keyfile: str | None = None,
          log_level: str = "info") -> None:
    """Serve the app with uvicorn until interrupted (SIGINT or SIGTERM), logging JSON lines to standard error.

    Raises:
        ServeError: the address cannot be bound, or only one of the TLS files is given.
    """
    import uvicorn

    from eligibility.serve.app import create_app

    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise ServeError("TLS needs both --ssl-certfile and --ssl-keyfile")
    configure(log_level)
    app = create_app(engine, token=token, limits=limits)
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    config = uvicorn.Config(app, host=host, port=actual, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
                            log_config=None, access_log=False, server_header=False, proxy_headers=False,
                            lifespan="off", log_level=log_level)
    scheme = "https" if ssl_certfile else "http"
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    log(logging.INFO, "listening", url=f"{scheme}://{shown}:{actual}", host=host, port=actual,
        auth="bearer" if token is not None else "none", tls=ssl_certfile is not None,
        library_version=__version__, policy_hash=engine.policy_hash)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
