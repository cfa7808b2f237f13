// The reference site's "analytics": one beacon per page view. It only runs when the
// visitor allowed analytics (the banner or the server switches it on).
navigator.sendBeacon("/collect", new Blob([location.pathname], { type: "text/plain" }));
