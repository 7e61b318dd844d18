from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.utils import timezone

from . import activation, mfa, sessions
from .models import RefreshFamily, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    search_fields = ("username", "email", "first_name", "last_name")
    ordering = ("username",)
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),)

    list_display = ("username", "email", "email_verified_at", "is_active", "is_staff", "two_step", "date_joined")
    readonly_fields = ("email_verified_at", "google_sub", "two_step", "passkeys", "recovery_codes_left")
    actions = ["reset_second_factors"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        fields = ("email_verified_at", "google_sub", "two_step", "passkeys", "recovery_codes_left")
        return (*fieldsets, ("Sign-in", {"fields": fields}))

    # Whether a second factor is on, and how many recovery codes are left; never the secret.
    @admin.display(description="Two-step", boolean=True)
    def two_step(self, obj) -> bool:
        return mfa.has_second_factor(obj)

    @admin.display(description="Passkeys")
    def passkeys(self, obj) -> int:
        return obj.passkeys.count()

    @admin.display(description="Recovery codes left")
    def recovery_codes_left(self, obj) -> int:
        return mfa.recovery_codes_left(obj)

    @admin.action(description="Reset (remove) the second factors of the selected users")
    def reset_second_factors(self, request, queryset):
        """For a person who lost their authenticator and their recovery codes, once the operator
        has made sure it is them: the app, the passkeys and the recovery codes. Audited
        (`mfa.totp_disabled`, `mfa.passkey_removed`, reason `admin`, the operator as actor)."""
        reset = sum(mfa.reset_second_factors(user=user, actor_id=request.user.pk) for user in queryset)
        self.message_user(request, f"Reset the second factors of {reset} user(s).")

    def save_model(self, request, obj, form, change):
        if not change:
            # An operator who creates an account vouches for its address.
            obj.email_verified_at = timezone.now()
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # Deactivation signs the user out everywhere (a password change already does: a
            # family's password fingerprint stops matching).
            activation.set_active(user=obj, active=False, actor_id=request.user.pk)


@admin.register(RefreshFamily)
class RefreshFamilyAdmin(admin.ModelAdmin):
    """Logins, for support: who is signed in where. No token is stored, so none is shown."""

    list_display = ("user", "created_at", "last_refreshed_at", "expires_at", "revoked_at", "revoke_reason")
    list_filter = ("revoke_reason",)
    search_fields = ("user__username", "user__email")
    readonly_fields = [f.name for f in RefreshFamily._meta.fields if f.name != "current_jti"]
    exclude = ("current_jti",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke (sign out) selected logins")
    def revoke(self, request, queryset):
        count = sessions.revoke_families(queryset.values("pk"), reason=RefreshFamily.RevokeReason.ADMIN)
        self.message_user(request, f"Revoked {count} login(s).")


# Permissions are scopes and team roles (access/scopes.py), not Django groups: nothing to manage.
admin.site.unregister(Group)
