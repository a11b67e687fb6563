"""`molmo-arena serve`: any model adapter as an OpenAI-compatible HTTP endpoint (see `evals/serve.py`).

Heavy imports (the adapter, torch) happen inside the command, so the console starts fast.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket

from molmo_arena.common.arguments import positive_int

API_KEY_ENV = "MOLMO_ARENA_SERVE_API_KEY"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the `serve` command to the console's sub-parsers."""
    parser = subparsers.add_parser(
        "serve",
        help="serve a model as an OpenAI-compatible chat-completions endpoint",
        description="Serve a model adapter at http://HOST:PORT/v1 (POST /v1/chat/completions, GET /v1/models, "
        "GET /health). Requests arriving within --batch-window-ms of each other are answered by one batched "
        "generate call of up to --max-batch requests. Images must come inline as base64 data: URLs. With an API "
        f"key (--api-key, or the environment variable {API_KEY_ENV} to keep it off the command line), every /v1 "
        "request must send 'Authorization: Bearer KEY'; a key is required to listen on anything but a loopback "
        "address.",
    )
    parser.add_argument("--model", required=True, metavar="SPEC", help="KIND:TARGET, e.g. hf:/path/to/checkpoint")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--name", help="the model name clients send (default: the last part of the spec's target)")
    parser.add_argument("--max-batch", type=positive_int, default=8, help="most requests per generate call (default 8)")
    parser.add_argument("--batch-window-ms", type=float, default=5.0,
                        help="how long the first request of a batch waits for others (default 5 ms)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))
    parser.add_argument("--api-key", default=os.environ.get(API_KEY_ENV) or None,
                        help=f"the key clients send as 'Authorization: Bearer KEY' (default: ${API_KEY_ENV})")
    parser.set_defaults(func=run_serve)


def default_name(spec: str) -> str:
    """`hf:/models/tiny-llava/` -> `tiny-llava`; `hf:org/name` -> `name`."""
    target = spec.partition(":")[2].split("#")[-1]
    return target.rstrip("/").rsplit("/", 1)[-1] or spec


def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback address (127.0.0.0/8, ::1); a name is resolved."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses)


def run_serve(args: argparse.Namespace) -> int:
    """Load the model, then answer requests until interrupted."""
    if args.max_batch < 1:
        raise ValueError(f"--max-batch must be at least 1, got {args.max_batch}")
    if args.batch_window_ms < 0:
        raise ValueError(f"--batch-window-ms must be at least 0, got {args.batch_window_ms}")
    if not args.api_key and not is_loopback(args.host):
        raise ValueError(f"--host {args.host}: listening beyond this machine needs an API key (--api-key or "
                         f"${API_KEY_ENV})")
    from evals.adapters import load_adapter
    from evals.serve import ChatServer

    adapter = load_adapter(args.model, device=args.device, dtype=args.dtype)
    name = args.name or default_name(args.model)
    server = ChatServer(adapter, name, args.host, args.port, args.max_batch, args.batch_window_ms / 1000,
                        api_key=args.api_key)
    host, port = server.server_address[:2]
    print(f"serving {name} ({args.model}) at http://{host}:{port}/v1"
          f"{' (API key required)' if args.api_key else ''}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
