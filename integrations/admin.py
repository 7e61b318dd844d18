from django.contrib import admin

from . import services
from .models import Integration


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    """Integrations are listed with their secrets masked (the Admin key's id only; the encrypted
    values are never displayed) and are never created here: use the API or the dashboard, which
    show the Admin key once."""

    list_display = ("name", "team", "admin_key_id", "status", "created_at", "last_used_at")
    list_filter = ("team",)
    search_fields = ("name", "admin_key_id", "team__name")
    list_select_related = ("team",)
    fields = (
        "id",
        "name",
        "description",
        "team",
        "permissions",
        "admin_key_id",
        "allowed_origins",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = tuple(field for field in fields if field not in ("name", "description"))
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="status")
    def status(self, obj):
        return "revoked" if obj.revoked_at else "active"

    @admin.action(description="Revoke selected integrations (both keys stop working at once)")
    def revoke(self, request, queryset):
        for integration in queryset.filter(revoked_at__isnull=True):
            services.revoke_integration(integration=integration, actor_id=request.user.pk)
        self.message_user(request, "Revoked.")
