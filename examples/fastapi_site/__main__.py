"""python -m examples.fastapi_site [--host 127.0.0.1] [--port 8000] [--instance ./instance]

Serves the example under uvicorn. The secret key is read from CONSENTLIB_SECRET_KEY;
without it a new one is made at each start, so earlier choices are asked again.
"""
from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path

import uvicorn

from examples.fastapi_site import create_app

parser = argparse.ArgumentParser(prog="python -m examples.fastapi_site", description="consentlib's FastAPI example.")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8000)
parser.add_argument("--instance", default="instance", help="folder for the SQLite consent store")
args = parser.parse_args()
instance = Path(args.instance).resolve()
instance.mkdir(parents=True, exist_ok=True)
key = os.environ.get("CONSENTLIB_SECRET_KEY") or secrets.token_urlsafe(32)
app = create_app(secret_key=key, store=f"sqlite:///{instance / 'consent.db'}", site_url=f"http://{args.host}:{args.port}")
uvicorn.run(app, host=args.host, port=args.port)
