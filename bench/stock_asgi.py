"""Django's stock ASGI handler on our settings, for bench/compare_asgi.py to compare with ours
(config/asgi.py explains the difference)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()
