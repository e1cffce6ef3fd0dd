"""Mail out: composing messages, the SMTP session, the durable outbox and credentials (`submit`, `outbox`)."""
