from django.contrib import admin, messages
from django.db.models import Count
from rest_framework.exceptions import APIException

from access.scopes import Role

from . import services
from .models import Invitation, Membership, Team


class MembershipInline(admin.TabularInline):
    """Read-only: memberships change through the Memberships list's actions, which call
    teams.services (the team lock, the last-owner rule, the audit event), like the API."""

    model = Membership
    extra = 0
    fields = ("user", "role", "created_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _role_action(role: str):
    def action(modeladmin, request, queryset):
        _apply(modeladmin, request, queryset, lambda actor, m: services.change_role(actor=actor, target=m, role=role))

    action.__name__ = f"make_{role}"
    return admin.action(description=f"Make the selected members {role}s")(action)


def _apply(modeladmin, request, queryset, change) -> None:
    actor = services.Actor.operator(request.user)
    done = 0
    for membership in queryset.select_related("user", "team"):
        try:
            change(actor, membership)
            done += 1
        except APIException as exc:  # e.g. 409 last_owner: say so, change nothing for this one
            modeladmin.message_user(request, f"{membership}: {exc.detail}", level=messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{done} membership(s) changed.", level=messages.SUCCESS)


@admin.action(description="Remove the selected members from their teams")
def remove_members(modeladmin, request, queryset):
    _apply(modeladmin, request, queryset, lambda actor, m: services.remove_member(actor=actor, target=m))


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Who is in which team. Rows are changed only through the actions (services, audited)."""

    list_display = ("user", "team", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username", "user__email", "team__name", "team__id")
    list_select_related = ("user", "team")
    actions = [*(_role_action(role) for role in Role.values), remove_members]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the bulk delete would skip the services; use "Remove the selected members"


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "plan", "require_second_factor", "member_count", "created_at")
    list_filter = ("plan", "require_second_factor")
    search_fields = ("name", "id", "memberships__user__username", "memberships__user__email")
    # The two-step rule changes through the API or the dashboard (an owner; audited and mailed).
    readonly_fields = ("id", "require_second_factor", "created_at")
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_member_count=Count("memberships", distinct=True))

    @admin.display(description="members", ordering="_member_count")
    def member_count(self, obj):
        return obj._member_count


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "team", "role", "status", "invited_by", "created_at", "expires_at", "accepted_at")
    list_filter = ("role",)
    search_fields = ("email", "team__name")
    readonly_fields = ("team", "email", "role", "invited_by", "created_at", "expires_at", "accepted_at", "accepted_by")
    exclude = ("token_hash",)

    def has_add_permission(self, request):
        return False
