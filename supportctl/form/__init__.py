"""The registration form: PDF fill and integrity checks, value rules, the Latin-script rule, drafts."""
