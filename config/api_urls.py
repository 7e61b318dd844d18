"""Every /api/v1/ path, exactly as the seeds write them: no trailing slash (one is tolerated,
and left out of the schema)."""

from django.urls import path

from accounts import email_views as email
from accounts import passkey_views as passkeys
from accounts import views as accounts
from apikeys import views as apikeys
from audit import views as audit
from integrations import views as integrations
from livestream import views as livestream
from teams import views as teams
from tracking import views as tracking
from usage import views as usage


def route(pattern: str, view, name: str):
    handler = view.as_view()
    return [path(pattern, handler, name=name), path(pattern + "/", handler)]


urlpatterns = [
    # Django tries patterns in order: the resources that scripts call with their keys come first.
    *route("campaigns", tracking.CampaignList, "campaigns"),
    *route("campaigns/<uuid:object_id>", tracking.CampaignDetail, "campaign"),
    *route("domains", tracking.DomainList, "domains"),
    *route("domains/<uuid:object_id>", tracking.DomainDetail, "domain"),
    *route("offers", tracking.OfferList, "offers"),
    *route("offers/<uuid:object_id>", tracking.OfferDetail, "offer"),
    *route("sources", tracking.SourceList, "sources"),
    *route("sources/<uuid:object_id>", tracking.SourceDetail, "source"),
    *route("networks", tracking.NetworkList, "networks"),
    *route("networks/<uuid:object_id>", tracking.NetworkDetail, "network"),
    *route("stats", tracking.StatsView, "stats"),
    *route("billing", tracking.BillingView, "billing"),
    *route("auth/login", accounts.LoginView, "login"),
    *route("auth/refresh", accounts.RefreshView, "refresh"),
    *route("auth/logout", accounts.LogoutView, "logout"),
    *route("auth/me", accounts.MeView, "me"),
    *route("auth/sessions", accounts.SessionListView, "sessions"),
    *route("auth/sessions/revoke-others", accounts.RevokeOtherSessionsView, "sessions-revoke-others"),
    *route("auth/sessions/<uuid:family_id>", accounts.SessionDetailView, "session"),
    *route("auth/register", accounts.RegisterView, "register"),
    *route("auth/verify-email", accounts.VerifyEmailView, "verify-email"),
    *route("auth/resend-verification", accounts.ResendVerificationView, "resend-verification"),
    *route("auth/forgot-password", accounts.ForgotPasswordView, "forgot-password"),
    *route("auth/reset-password", accounts.ResetPasswordView, "reset-password"),
    *route("auth/change-password", accounts.ChangePasswordView, "change-password"),
    *route("auth/reauthenticate", accounts.ReauthenticateView, "reauthenticate"),
    *route("auth/google", accounts.GoogleSignInView, "google"),
    *route("auth/second-factor", accounts.SecondFactorSignInView, "second-factor"),
    *route("auth/second-factor/passkey-options", passkeys.SecondFactorPasskeyOptionsView, "second-factor-passkey"),
    *route("auth/reauthenticate/passkey-options", passkeys.ReauthenticatePasskeyOptionsView, "reauthenticate-passkey"),
    *route("auth/passkey/options", passkeys.PasskeySignInOptionsView, "passkey-sign-in-options"),
    *route("auth/passkey", passkeys.PasskeySignInView, "passkey-sign-in"),
    *route("me/passkeys", passkeys.PasskeyListView, "passkeys"),
    *route("me/passkeys/options", passkeys.PasskeyRegistrationOptionsView, "passkey-options"),
    *route("me/passkeys/<uuid:passkey_id>", passkeys.PasskeyDetailView, "passkey"),
    *route("me/account", accounts.AccountView, "account"),
    *route("me/email", email.EmailChangeView, "email-change"),
    *route("me/email/confirm", email.EmailChangeConfirmView, "email-change-confirm"),
    *route("me/second-factors", accounts.SecondFactorStatusView, "second-factors"),
    *route("me/second-factors/totp", accounts.TOTPEnrolmentView, "totp-enrol"),
    *route("me/second-factors/totp/confirm", accounts.TOTPConfirmView, "totp-confirm"),
    *route("me/second-factors/totp/disable", accounts.TOTPDisableView, "totp-disable"),
    *route("me/second-factors/recovery-codes", accounts.RecoveryCodesView, "recovery-codes"),
    *route("me/google/unlink", accounts.GoogleUnlinkView, "google-unlink"),
    *route("auth/api-keys", apikeys.APIKeyListView, "api-keys"),
    *route("auth/api-keys/<uuid:key_id>", apikeys.APIKeyDetailView, "api-key"),
    *route("auth/api-keys/<uuid:key_id>/revoke", apikeys.APIKeyRevokeView, "api-key-revoke"),
    *route("auth/api-keys/<uuid:key_id>/regenerate", apikeys.APIKeyRegenerateView, "api-key-regenerate"),
    *route("auth/api-keys/<uuid:key_id>/disable", apikeys.APIKeyDisableView, "api-key-disable"),
    *route("auth/api-keys/<uuid:key_id>/enable", apikeys.APIKeyEnableView, "api-key-enable"),
    *route("auth/api-keys/<uuid:key_id>/audit-log", apikeys.KeyAuditLogView, "api-key-audit-log"),
    *route("auth/api-keys/<uuid:key_id>/usage", apikeys.KeyUsageView, "api-key-usage"),
    *route("secret-scanning/reports", apikeys.LeakReportView, "secret-scanning-reports"),
    *route("audit-log", audit.TeamAuditLogView, "audit-log"),
    *route("usage", usage.TeamUsageView, "usage"),
    *route("audit-log/stream-token", livestream.AuditStreamTokenView, "audit-log-stream-token"),
    *route("audit-log/stream", livestream.AuditStreamView, "audit-log-stream"),
    *route("integrations", integrations.IntegrationListView, "integrations"),
    *route("integrations/<uuid:integration_id>", integrations.IntegrationDetailView, "integration"),
    *route(
        "integrations/<uuid:integration_id>/regenerate-admin-key",
        integrations.RegenerateAdminKeyView,
        "integration-regenerate-admin-key",
    ),
    *route(
        "integrations/<uuid:integration_id>/regenerate-content-key",
        integrations.RegenerateContentKeyView,
        "integration-regenerate-content-key",
    ),
    *route(
        "integrations/<uuid:integration_id>/audit-log", integrations.IntegrationAuditLogView, "integration-audit-log"
    ),
    *route("integrations/<uuid:integration_id>/usage", integrations.IntegrationUsageView, "integration-usage"),
    *route("teams", teams.TeamListView, "teams"),
    *route("team", teams.CurrentTeamView, "team"),
    *route("team/second-factor-rule", teams.SecondFactorRuleView, "team-second-factor-rule"),
    *route("team/leaked-key-policy", teams.LeakedKeyPolicyView, "team-leaked-key-policy"),
    *route("team/key-policy", teams.KeyPolicyView, "team-key-policy"),
    *route("team/members", teams.MemberListView, "team-members"),
    *route("team/members/<uuid:user_id>", teams.MemberDetailView, "team-member"),
    *route("team/invitations", teams.InvitationListView, "team-invitations"),
    *route("team/invitations/<uuid:invitation_id>", teams.InvitationDetailView, "team-invitation"),
    *route("invitations/accept", teams.AcceptInvitationView, "accept-invitation"),
]
