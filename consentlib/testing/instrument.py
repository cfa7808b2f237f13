"""What the audit installs in its browser before any page script runs.

``prepare`` sends the ``--header`` lines with every request (DevTools
``Network.setExtraHTTPHeaders``), asks for the ``--lang`` language (``Accept-Language``
and ``navigator.language``), and adds :data:`INSTRUMENT_JS` to every new document
(``Page.addScriptToEvaluateOnNewDocument``), so the page's own scripts find it already
there. It records:

- fingerprinting: a readout of a canvas that is not on the page (``toDataURL``,
  ``toBlob``, ``getImageData``: a chart the visitor sees is on the page, a fingerprint
  is drawn off-screen), WebGL's ``UNMASKED_VENDOR_WEBGL``/``UNMASKED_RENDERER_WEBGL``
  (the GPU's name), and audio rendered off-line (``OfflineAudioContext.startRendering``)
  or read back through an ``AnalyserNode``. Reading the device to tell visitors apart is
  "gaining access to information already stored in the terminal equipment" (ePrivacy
  Art 5(3); EDPB Guidelines 2/2023 on its technical scope): no cookie is needed for it
  to need consent;
- activity: the time of the last DOM change or finished resource and the number of
  fetch/XHR requests in flight, so the audit can tell a page that is done ("quiet")
  from one still working, and wait on that condition instead of a fixed sleep.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selenium.webdriver.chromium.webdriver import ChromiumDriver

#: How long a page must stay without DOM changes and requests to count as done.
QUIET_SECONDS = 1.0

INSTRUMENT_JS = r"""
(() => {
  if (window.__consentlibAudit) return;
  const audit = {calls: [], last: performance.now(), pending: 0};
  Object.defineProperty(window, '__consentlibAudit', {value: audit, enumerable: false});
  const note = (api) => {
    if (audit.calls.length < 50 && !audit.calls.some(c => c.api === api)) audit.calls.push({api, url: location.href});
  };
  const wrap = (proto, name, api, when) => {
    if (!proto || typeof proto[name] !== 'function') return;
    const original = proto[name];
    proto[name] = function (...args) {
      try { if (!when || when.apply(this, args)) note(api); } catch (e) {}
      return original.apply(this, args);
    };
  };
  const offPage = function () { return !this.isConnected; };
  wrap(window.HTMLCanvasElement && HTMLCanvasElement.prototype, 'toDataURL', 'canvas toDataURL', offPage);
  wrap(window.HTMLCanvasElement && HTMLCanvasElement.prototype, 'toBlob', 'canvas toBlob', offPage);
  wrap(window.CanvasRenderingContext2D && CanvasRenderingContext2D.prototype, 'getImageData',
       'canvas getImageData', function () { return !(this.canvas && this.canvas.isConnected); });
  const unmasked = p => p === 0x9245 || p === 0x9246;  // UNMASKED_VENDOR_WEBGL, UNMASKED_RENDERER_WEBGL
  wrap(window.WebGLRenderingContext && WebGLRenderingContext.prototype, 'getParameter',
       'WebGL UNMASKED_VENDOR/RENDERER', unmasked);
  wrap(window.WebGL2RenderingContext && WebGL2RenderingContext.prototype, 'getParameter',
       'WebGL UNMASKED_VENDOR/RENDERER', unmasked);
  wrap(window.OfflineAudioContext && OfflineAudioContext.prototype, 'startRendering', 'OfflineAudioContext rendering');
  wrap(window.AnalyserNode && AnalyserNode.prototype, 'getFloatFrequencyData', 'AudioContext rendering read back');
  const touch = () => { audit.last = performance.now(); };
  new MutationObserver(touch).observe(document, {subtree: true, childList: true, attributes: true,
                                                 characterData: true});
  try { new PerformanceObserver(touch).observe({type: 'resource'}); } catch (e) {}
  const track = promise => { audit.pending++; touch();
    const done = () => { audit.pending--; touch(); }; promise.then(done, done); };
  if (window.fetch) {
    const fetch = window.fetch;
    window.fetch = function (...args) { const p = fetch.apply(this, args); track(p); return p; };
  }
  if (window.XMLHttpRequest) {
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function (...args) {
      track(new Promise(done => this.addEventListener('loadend', done)));
      return send.apply(this, args);
    };
  }
})();
"""

_QUIET_JS = """
const audit = window.__consentlibAudit;
if (document.readyState !== 'complete') return false;
if (!audit) return true;
return audit.pending === 0 && performance.now() - audit.last >= arguments[0] * 1000;
"""


def prepare(driver: ChromiumDriver, *, headers: Mapping[str, str] | None = None, lang: str | None = None) -> None:
    """Set up ``driver`` for an audit: extra headers, language, instrumentation (before any page)."""
    driver.execute_cdp_cmd("Network.enable", {})
    # Always set, even to none: a reused browser must not keep the last audit's headers.
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": dict(headers or {})})
    if lang:
        agent = driver.execute_script("return navigator.userAgent")
        # Accept-Language (RFC 9110 §12.5.4) and navigator.language(s) both follow this override.
        driver.execute_cdp_cmd("Emulation.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": lang})
        try:  # Intl's locale too, when ICU knows the tag; Accept-Language is set either way
            driver.execute_cdp_cmd("Emulation.setLocaleOverride", {"locale": lang})
        except Exception:  # selenium's WebDriverException: "Invalid locale name"
            pass
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": INSTRUMENT_JS})


def fingerprint_calls(driver: ChromiumDriver) -> list[dict[str, Any]]:
    """The fingerprinting calls the current page made since it was loaded."""
    calls = driver.execute_script("return (window.__consentlibAudit || {calls: []}).calls;")
    return [c for c in (calls or []) if isinstance(c, dict)]


def quiet(driver: ChromiumDriver, seconds: float = QUIET_SECONDS) -> bool:
    """Loaded, nothing in flight, and no DOM change or finished request for ``seconds``."""
    return bool(driver.execute_script(_QUIET_JS, seconds))


def touch(driver: ChromiumDriver) -> None:
    """Count the page's quiet from now: what the audit is about to do may start new work."""
    driver.execute_script("if (window.__consentlibAudit) window.__consentlibAudit.last = performance.now();")
