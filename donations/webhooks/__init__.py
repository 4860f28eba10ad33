"""Provider events on the ledger: the event store (`store`), receiving and applying them
(`apply`), the `{type: handler}` table and the one-off payments' handlers (`handlers`),
monthly gifts' (`monthly`), ledger issues for staff (`issues`) and reconciliation
(`reconcile`). Events reach the handlers as typed values (donations.providers.stripe_events)."""
