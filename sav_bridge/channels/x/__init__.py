"""X (Twitter): webhooks (CRC, signature, both envelopes) and posting replies and DMs."""
