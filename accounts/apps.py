"""App configuration for sign-up and the account pages."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
