"""Django's SMTP backend, keeping the server's reply to each message it accepts."""

import smtplib

from django.core.mail.backends import smtp


class ReplyKeepingSMTPMixin:
    """Remember the reply to DATA, which smtplib's sendmail() reads and throws away."""

    last_data_reply: tuple[int, bytes] | None = None
    # Whether the message text has started on its way (DATA was sent). Until then the
    # server cannot have the message, so a dead connection may be retried at no risk.
    data_started: bool = False

    def data(self, msg):
        self.data_started = True
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
        connection = self.connection
        connection.last_data_reply = None
        connection.data_started = False
        try:
            sent = super()._send(email_message)
        except Exception as error:
            # Read by mailer.connections.send to tell a connection found dead (safe to
            # send again at once) from one that broke while the server may hold the message.
            error.message_handed_over = connection.data_started
            raise
        if sent and self.connection.last_data_reply:
            code, reply = self.connection.last_data_reply
            email_message.server_reply = f"{code} {reply.decode(errors='replace')}"
        return sent
