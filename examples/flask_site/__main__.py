"""python -m examples.flask_site [--host 127.0.0.1] [--port 5000] [--instance ./instance] [--video URL]"""
from __future__ import annotations

import argparse

from examples.flask_site import create_app

parser = argparse.ArgumentParser(prog="python -m examples.flask_site", description="The consentlib reference site.")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=5000)
parser.add_argument("--instance", default="instance", help="folder for the SQLite store, outbox and secret key")
# Big Buck Bunny (Blender Foundation, CC BY 3.0), through YouTube's privacy-enhanced mode.
parser.add_argument("--video", default="https://www.youtube-nocookie.com/embed/aqz-KE-bpKQ",
                    help="URL of the video the home page embeds (consent_embed); '' for none")
args = parser.parse_args()
# The development server: with the region switcher (/region), which plays the CDN.
app = create_app(args.instance, site_url=f"http://{args.host}:{args.port}", demo_regions=True,
                 video=args.video or None)
print(f"consentlib reference site on http://{args.host}:{args.port}/ (data in {args.instance}/)")
app.run(host=args.host, port=args.port, threaded=True)
