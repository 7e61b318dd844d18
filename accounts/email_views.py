"""Changing the e-mail address (accounts/email_change.py): asked for with a recent authentication,
confirmed with the code mailed to the new address."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import InteractiveLoginOnly
from access.views import AccessMixin

from . import email_change
from .serializers import DetailSerializer, EmailChangeConfirmSerializer, EmailChangeSerializer, EmailSerializer
from .views import _valid


class EmailChangeView(AccessMixin, APIView):
    """Ask to move the account to another e-mail address: a code goes to that address (202). The
    answer is the same whether or not the address belongs to another account (its owner is told
    instead). Nothing changes until the code is confirmed."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]
    # The address receives password resets: changing it hands out the account. Step-up first.
    requires_recent_authentication = frozenset({"POST"})
    rate_limit = "change_email"

    def rate_limit_account_of(self, request):
        return f"user:{request.user.pk}"

    @extend_schema(request=EmailChangeSerializer, responses={202: DetailSerializer})
    def post(self, request):
        data = _valid(EmailChangeSerializer, request)
        email_change.request_change(user=request.user, new_email=data["email"])
        return Response(
            {"detail": "If the address can be used, a code is on its way there; confirm it to make the change."},
            status=status.HTTP_202_ACCEPTED,
        )


class EmailChangeConfirmView(AccessMixin, APIView):
    """Confirm the change with the code mailed to the new address: it becomes the account's
    (verified), and the old address is told. A wrong code counts against the code (five tries)."""

    permission_classes = [IsAuthenticated, InteractiveLoginOnly]
    rate_limit = "verify_email"

    def rate_limit_account_of(self, request):
        return f"user:{request.user.pk}"

    @extend_schema(request=EmailChangeConfirmSerializer, responses={200: EmailSerializer})
    def post(self, request):
        data = _valid(EmailChangeConfirmSerializer, request)
        return Response({"email": email_change.confirm_change(user=request.user, code=data["code"])})
