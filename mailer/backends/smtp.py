"""Django's SMTP backend, keeping the server's reply to each message it accepts."""

import smtplib

from django.core.mail.backends import smtp


class ReplyKeepingSMTPMixin:
    """Remember the reply to DATA, which smtplib's sendmail() reads and throws away."""

    last_data_reply: tuple[int, bytes] | None = None

    def data(self, msg):
        code, reply = super().data(msg)
        self.last_data_reply = (code, reply)
        return code, reply


class ReplyKeepingSMTP(ReplyKeepingSMTPMixin, smtplib.SMTP):
    pass


class ReplyKeepingSMTPSSL(ReplyKeepingSMTPMixin, smtplib.SMTP_SSL):
    pass


class EmailBackend(smtp.EmailBackend):
    """Sends like Django's; each accepted message gets `server_reply`, e.g. "250 2.0.0 Ok".

    The reply usually carries the server's queue id, the one thread that ties our row
    to the provider's logs when someone asks where a message went.
    """

    @property
    def connection_class(self):
        return ReplyKeepingSMTPSSL if self.use_ssl else ReplyKeepingSMTP

    def _send(self, email_message):
        self.connection.last_data_reply = None
        sent = super()._send(email_message)
        if sent and self.connection.last_data_reply:
            code, reply = self.connection.last_data_reply
            email_message.server_reply = f"{code} {reply.decode(errors='replace')}"
        return sent
