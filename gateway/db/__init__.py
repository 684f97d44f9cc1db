"""Our own CRM tables: models, engine and migrations."""
