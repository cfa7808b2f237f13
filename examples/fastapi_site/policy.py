"""The FastAPI example's consent policy: four categories, a beacon, ETags behind analytics."""
from consentlib import Beacon, Category, Cookie, Policy

POLICY = Policy(
    revision=1,
    categories=[
        Category("necessary", required=True, label="Strictly necessary", description="Keeps you signed in."),
        Category("preferences", label="Preferences", description="Remembers light or dark mode."),
        Category("analytics", label="Analytics",
                 description="Counts visits; also lets our cache recognise you (ETags)."),
        Category("marketing", gpc=True, label="Marketing",
                 description="Measures ads. Turned off by a Global Privacy Control signal."),
    ],
    cookies=[
        Cookie("sid", "necessary", purpose="Keeps you signed in", lifetime="session"),
        Cookie("theme", "preferences", purpose="Remembers light/dark", lifetime="1 year"),
        Cookie("_ga*", "analytics", purpose="Counts visits", lifetime="2 years"),
        Cookie("_fbp", "marketing", purpose="Ad measurement", lifetime="90 days"),
    ],
    beacons=[Beacon("/collect", "analytics")],
    etags="analytics",
)
