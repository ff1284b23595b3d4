"""`serve`: the HTTP service (eligibility.serve)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from eligibility.base.i18n import translate as _
from eligibility.cli.common import jurisdiction_option, load_policies, policy_arg


def add_commands(main: Any) -> None:
    """Add `serve`."""

    @main.command()
    @policy_arg()
    @jurisdiction_option
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
    @click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
                  help="Port to listen on (0: a free port, logged at start).")
    @click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="File whose first line is the bearer token callers must send [default: $ELIGIBILITY_TOKEN].")
    @click.option("--no-auth", is_flag=True, help="Serve without a token: allowed on a loopback address only.")
    @click.option("--ssl-certfile", type=click.Path(dir_okay=False, exists=True), default=None,
                  help="TLS certificate (PEM), passed to uvicorn.")
    @click.option("--ssl-keyfile", type=click.Path(dir_okay=False, exists=True), default=None,
                  help="TLS private key (PEM), passed to uvicorn.")
    @click.option("--max-body", type=click.IntRange(1), default=1024 * 1024, show_default=True, metavar="BYTES",
                  help="Largest request body; 413 beyond.")
    @click.option("--time-limit", type=click.FloatRange(0, min_open=True), default=10.0, show_default=True,
                  metavar="SECONDS", help="Longest a request may wait and decide; 503 beyond.")
    @click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
                  show_default=True)
    def serve(policies: Path | None, jurisdiction: str | None, host: str, port: int, token_file: Path | None,
              no_auth: bool, ssl_certfile: str | None, ssl_keyfile: str | None, max_body: int, time_limit: float,
              log_level: str) -> None:
        """Serve decisions and explanations over HTTP (needs the serve extra).

        Every route but /health needs `Authorization: Bearer TOKEN`. Logs are JSON lines on standard
        error, without household facts. See docs/how-to/call-the-service.md.
        """
        try:
            from eligibility.serve.body import Limits
            from eligibility.serve.run import ServeError, resolve_token
            from eligibility.serve.run import serve as run_service
        except ImportError:
            raise click.UsageError(_("serve needs starlette and uvicorn: pip install 'eligibility[serve]'")) from None
        try:
            token = resolve_token(token_file, no_auth, host)
        except ServeError as e:
            raise click.UsageError(str(e)) from None
        engine = load_policies(policies, jurisdiction)
        try:
            run_service(engine, host=host, port=port, token=token, ssl_certfile=ssl_certfile,
                        ssl_keyfile=ssl_keyfile, log_level=log_level,
                        limits=Limits(max_body=max_body, time_limit=time_limit))
        except ServeError as e:
            raise click.UsageError(str(e)) from None
