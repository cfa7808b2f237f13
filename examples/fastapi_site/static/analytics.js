// The example's "analytics": one beacon per page view. It only runs when the visitor
// allowed analytics (the server renders it live, or the banner switches it on).
navigator.sendBeacon("/collect", new Blob([location.pathname], { type: "text/plain" }));
