"""The registration desk: mail sources (Maildir, mbox, IMAP), triage and replies (`inbox`)."""
