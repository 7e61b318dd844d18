"""The static files storage of a deployment that runs `collectstatic` (STATIC_ROOT set: the image).

WhiteNoise's compressed manifest storage: each file also under a name with its content's hash
(gzip-compressed beside it; brotli too when the `brotli` package is installed), references in CSS
rewritten to those names, served with a cache lifetime of ten years. Django's rewriting of
JavaScript module imports is turned on as well (off by default): the dashboard is ES modules that
import each other by relative path, and without it the hashed app.js would import the modules'
plain names, cached for a minute only, so a browser could run one release's app.js with the
previous release's modules for that minute.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ManifestStaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
