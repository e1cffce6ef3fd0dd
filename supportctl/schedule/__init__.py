"""Business calendar, activation-time engine, holiday tables and time parsing (`supportctl eta`)."""
