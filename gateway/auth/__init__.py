"""Who may ask (API keys, JWTs, embed tokens) and what they may see (roles,
PII policies, audit)."""
