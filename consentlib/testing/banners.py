"""The consent banners the audit knows how to answer, by their element ids and classes.

Each :class:`Banner` names, as CSS selectors, the banner (its first layer and its
settings layer), its "Accept all" and "Reject all" buttons, the control that reopens it
after a choice, and the first layer's button that opens the settings layer (where a
banner without "Reject all" on its first layer hides it). A selector may pierce a shadow
root with ``host >>> inner`` (Usercentrics renders inside one). Sources: each manager's
own documentation and markup. The audit knows a choice was recorded when the page's
cookies or localStorage change, whichever manager wrote them.
"""
from __future__ import annotations

from dataclasses import dataclass

SHADOW = " >>> "


@dataclass(frozen=True)
class Banner:
    name: str
    banner: str
    accept: str
    reject: str
    reopen: str | None = None
    settings: str | None = None  # the first layer's "Settings"/"More options" button


BUILT_IN = (
    Banner("consentlib", banner="#consent-banner", accept="#consent-accept-all", reject="#consent-reject-all",
           reopen="#consent-open"),
    # OneTrust: the banner, then the preference centre (reopened by the "Cookie Settings" button).
    Banner("OneTrust", banner="#onetrust-banner-sdk, #onetrust-pc-sdk",
           accept="#onetrust-accept-btn-handler, #accept-recommended-btn-handler",
           reject="#onetrust-reject-all-handler, .ot-pc-refuse-all-handler",
           reopen="#ot-sdk-btn, .ot-sdk-show-settings, .optanon-show-settings",
           settings="#onetrust-pc-btn-handler"),
    Banner("Cookiebot", banner="#CybotCookiebotDialog",
           accept="#CybotCookiebotDialogBodyLevelButtonLevelOptinAllowAll, #CybotCookiebotDialogBodyButtonAccept",
           reject="#CybotCookiebotDialogBodyButtonDecline",
           reopen="#CookiebotWidget .CookiebotWidget-logo, a[href*='Cookiebot.renew']",
           settings="#CybotCookiebotDialogBodyLevelButtonCustomize, #CybotCookiebotDialogBodyButtonDetails"),
    Banner("Didomi", banner="#didomi-notice, #didomi-popup", accept="#didomi-notice-agree-button",
           reject="#didomi-notice-disagree-button, .didomi-continue-without-agreeing",
           reopen="a[href*='Didomi.preferences.show'], [onclick*='Didomi.preferences.show']",
           settings="#didomi-notice-learn-more-button"),
    Banner("Usercentrics", banner="#usercentrics-root >>> [data-testid='uc-default-banner'], "
                                  "#usercentrics-root >>> [data-testid='uc-accept-all-button']",
           accept="#usercentrics-root >>> [data-testid='uc-accept-all-button']",
           reject="#usercentrics-root >>> [data-testid='uc-deny-all-button']",
           reopen="#usercentrics-root >>> [data-testid='uc-privacy-button']",
           settings="#usercentrics-root >>> [data-testid='uc-more-button']"),
    Banner("Klaro", banner=".klaro .cookie-notice, .klaro .cookie-modal",
           accept=".klaro .cm-btn-accept-all, .klaro .cookie-notice .cm-btn-success",
           reject=".klaro .cn-decline, .klaro .cm-btn-decline",
           reopen="[onclick*='klaro.show'], a[href*='klaro.show']", settings=".klaro .cn-learn-more"),
    Banner("vanilla-cookieconsent 3", banner="#cc-main .cm, #cc-main .pm",
           accept="#cc-main [data-role='all']", reject="#cc-main [data-role='necessary']",
           reopen="[data-cc='show-preferencesModal']", settings="#cc-main [data-role='show']"),
    Banner("vanilla-cookieconsent 2", banner="#cc_div #cm, #cc_div #s-cnt", accept="#c-p-bn, #s-all-bn",
           reject="#c-s-bn, #s-rall-bn", reopen="[data-cc='c-settings']"),
)


def custom(*, accept: str | None, reject: str | None, reopen: str | None, base: Banner | None = None) -> Banner:
    """A banner answered through the given selectors, each falling back to ``base``'s.

    Without a base, the banner counts as open while its Accept or Reject button shows.
    """
    if base is None:
        if not (accept and reject):
            raise ValueError("Give both --accept and --reject for a banner the audit does not know, "
                             "or neither to let it find a known one.")
        return Banner("custom", banner=f"{accept}, {reject}", accept=accept, reject=reject, reopen=reopen)
    return Banner(f"{base.name} (custom selectors)", banner=base.banner, accept=accept or base.accept,
                  reject=reject or base.reject, reopen=reopen or base.reopen, settings=base.settings)


# In the page: the first visible element for a selector list, piercing ``host >>> inner``.
FIND_VISIBLE_JS = """
const whole = arguments[0];
function visible(el) {
  if (!el || !el.isConnected) return false;
  const style = getComputedStyle(el);
  if (style.display === 'none' || style.visibility === 'hidden' || Number(style.opacity) === 0) return false;
  const box = el.getBoundingClientRect();
  return box.width > 0 && box.height > 0;
}
if (!whole.includes('>>>')) {
  for (const el of document.querySelectorAll(whole)) { if (visible(el)) return el; }
  return null;
}
for (const selector of whole.split(',').map(s => s.trim()).filter(Boolean)) {
  const parts = selector.split('>>>').map(s => s.trim());
  let roots = [document];
  for (let i = 0; i < parts.length - 1; i++) {
    roots = roots.flatMap(r => Array.from(r.querySelectorAll(parts[i]))).map(h => h.shadowRoot).filter(Boolean);
  }
  for (const root of roots) {
    for (const el of root.querySelectorAll(parts[parts.length - 1])) {
      if (visible(el)) return el;
    }
  }
}
return null;
"""
