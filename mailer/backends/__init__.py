"""Mail backends of the outbox, named like Django's (`mailer.backends.smtp.EmailBackend`)."""
