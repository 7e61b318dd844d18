"""Every dashboard page is the same shell; the links in our e-mails land on it too."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("", views.shell, name="dashboard"),
    path("login", views.shell, name="dashboard-login"),
    path("register", views.shell),
    path("verify", views.shell),
    path("forgot-password", views.shell),
    path("reset-password", views.shell, name="dashboard-reset-password"),
    path("invitations/accept", views.shell, name="dashboard-accept-invitation"),
    path("auth/google/callback", views.shell),
    re_path(r"^app(?:/(?P<path>.*))?$", views.shell, name="dashboard-app"),
]
