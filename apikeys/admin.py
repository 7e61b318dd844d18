from django.contrib import admin

from . import services
from .models import APIKey


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return APIKey.Status.choices

    def queryset(self, request, queryset):
        if self.value() in APIKey.Status.values:
            return queryset.in_status(self.value())
        return queryset


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    """Keys are listed masked; the digest is never displayed and keys are never created here
    (use the API or `manage.py create_api_key`, which show the raw key once)."""

    list_display = ("name", "masked", "team", "user", "status", "created_at", "last_used_at", "expires_at")
    list_filter = (StatusFilter, "pepper_id", "team", "user")
    search_fields = ("name", "prefix", "team__name", "user__username")
    list_select_related = ("team", "user")
    fields = (
        "id",
        "name",
        "masked",
        "team",
        "user",
        "permissions",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_rotated_at",
        "revoked_at",
    )
    readonly_fields = tuple(field for field in fields if field != "name")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="key")
    def masked(self, obj):
        return obj.masked

    @admin.action(description="Revoke selected keys (instant and final)")
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            services.revoke_key(key=key, actor=request.user)
        self.message_user(request, "Revoked.")
