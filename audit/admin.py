from django.contrib import admin

from .models import AuditEvent


class StatusClassFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status_class"

    def lookups(self, request, model_admin):
        return [("2", "2xx"), ("4", "4xx"), ("5", "5xx")]

    def queryset(self, request, queryset):
        if self.value() in ("2", "4", "5"):
            low = int(self.value()) * 100
            return queryset.filter(status_code__gte=low, status_code__lt=low + 100)
        return queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: events are written by the application and removed only by `prune_audit`."""

    list_display = ("created_at", "action", "status_code", "team", "actor", "key_prefix", "method", "path", "ip")
    list_filter = ("action", StatusClassFilter, "team")
    date_hierarchy = "created_at"
    search_fields = ("key_prefix", "key_name", "request_id", "path")
    list_select_related = ("team", "actor")
    show_full_result_count = False  # no COUNT(*) over a large table on every page

    class Media:
        # Long paths and IPv6 addresses wrap inside their columns instead of widening the table.
        css = {"all": ["audit/admin.css"]}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
