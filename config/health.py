from django.db import connection
from django.http import JsonResponse


def healthz(request):
    """200 when the database answers a trivial query, 503 otherwise. No authentication."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return JsonResponse(
            {"status": "unavailable", "database": "down"}, status=503, content_type="application/problem+json"
        )
    return JsonResponse({"status": "ok", "database": "ok"})
