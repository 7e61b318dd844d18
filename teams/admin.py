from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet

from access.scopes import Role

from .models import Invitation, Membership, Team


class MembershipFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        owners = 0
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data:
                continue
            if form.cleaned_data.get("DELETE"):
                continue
            if form.cleaned_data.get("role") == Role.OWNER:
                owners += 1
        if not owners:
            raise ValidationError("A team must keep at least one owner.")


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "id", "plan", "member_count", "created_at")
    list_filter = ("plan",)
    search_fields = ("name", "id", "memberships__user__username", "memberships__user__email")
    readonly_fields = ("id", "created_at")
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
