"""Social networks. Each channel turns its vendor's webhooks into `SocialMessage`s and posts replies."""
