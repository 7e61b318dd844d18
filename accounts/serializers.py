from django.conf import settings
from rest_framework import serializers


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=254, help_text="Username or e-mail address.")
    password = serializers.CharField(max_length=settings.PASSWORD_MAX_LENGTH, trim_whitespace=False)


class RefreshSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096)


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.ChoiceField(choices=["bearer"])
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


class UserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    date_joined = serializers.DateTimeField()


class MeSerializer(serializers.Serializer):
    user = UserSerializer()
    auth = serializers.ChoiceField(choices=["jwt", "api_key"], help_text="Which credential made this call.")
    api_key = serializers.DictField(required=False, help_text="With an API key: id, name, team and scopes.")
