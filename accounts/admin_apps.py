from django.contrib.admin.apps import AdminConfig


class GhostFlowAdminConfig(AdminConfig):
    """Django admin with our login (rate-limited and audited like the API's: accounts.admin_site).
    Its own module: accounts/apps.py may declare only the accounts app's config."""

    default_site = "accounts.admin_site.AdminSite"
