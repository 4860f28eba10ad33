"""The Content-Security-Policy of every page (django-csp), built from the settings.

Scripts: our own files, plus an inline script only with the response's nonce (none of ours
needs one but the stream key page's copy button); Stripe.js only when Stripe is on. Media and
workers also from blob: (hls.js feeds the video through Media Source Extensions from a
worker). Styles allow inline `style=""` attributes (the admin and our templates use them);
nothing can inject a script through a style. Nothing may frame our pages.
"""

from __future__ import annotations

from typing import Any

from csp.constants import NONCE, NONE, SELF

# Stripe's documented origins for Stripe.js, the Payment Element and wallets.
STRIPE_SCRIPTS = ["https://js.stripe.com", "https://*.js.stripe.com"]
STRIPE_FRAMES = ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"]
STRIPE_CONNECT = ["https://api.stripe.com", "https://*.stripe.com"]
STRIPE_IMAGES = ["https://*.stripe.com"]


def content_security_policy(*, stripe: bool) -> dict[str, Any]:
    """django-csp's CONTENT_SECURITY_POLICY setting."""
    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": [SELF, NONCE, *(STRIPE_SCRIPTS if stripe else [])],
            "style-src": [SELF, "'unsafe-inline'"],
            "img-src": [SELF, "data:", *(STRIPE_IMAGES if stripe else [])],
            "media-src": [SELF, "blob:"],
            "worker-src": [SELF, "blob:"],
            "connect-src": [SELF, *(STRIPE_CONNECT if stripe else [])],
            "frame-src": STRIPE_FRAMES if stripe else [NONE],
            "frame-ancestors": [NONE],
            "object-src": [NONE],
            "base-uri": [SELF],
            "form-action": [SELF],
        }
    }
