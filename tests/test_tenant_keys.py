"""Which keys do not carry ``tenant_id``: the list a distribution by tenant (Citus) has to work off.

A sharded PostgreSQL such as Citus can place each tenant's rows together only when every
unique key and every foreign key between distributed tables includes the distribution column
(``tenant_id``). Today Kvitt runs on one PostgreSQL, where a key on an id alone is correct, and
these are the keys that would have to change (docs/operations.md, "Growing past one machine").

The test compares the metadata with the explicit list below, each with its reason: a new table
without ``tenant_id``, or a new unique or foreign key without it, fails here until it is either
given ``tenant_id`` or added to the list with a reason. A key that gains ``tenant_id`` must be
taken off the list (the list only shrinks on purpose).
"""

from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint, UniqueConstraint

from kvitt.models import Base

# Tables with no tenant_id column at all.
TENANTLESS_TABLES = {
    "tenants": "the tenants themselves (distributed by id = tenant_id, or a Citus reference table)",
    "reference_rates": "Riksbank's reference rate, the same for every tenant (a Citus reference table)",
    "login_throttle": "failed /admin logins before a tenant is known (hashed e-mail and client address)",
}

# Unique keys without tenant_id: "unique table(columns)".
UNIQUE_WITHOUT_TENANT = {
    "unique tenants(org_number)": "one tenant per organisation number across the installation",
    "unique api_keys(key_hash)": "a request names its tenant only by its key: looked up before the tenant is known",
    "unique invoices(token)": "the web invoice /i/<token> is reached without a tenant: looked up by token alone",
    "unique deliveries(callback_token)": "46elks' delivery report URL carries only the token: looked up by it alone",
    "unique webhook_events(public_id)": "evt_ ids are globally unique random ids (could be per tenant)",
    "unique outbox_jobs(dedupe_key)": "keys name a global id or the tenant; jobs of no tenant share the queue",
    "unique automation_firings(rule_id, event_key)": "rule_id is one tenant's (could be (tenant_id, rule_id, ...))",
    "unique billing_periods(subscription_id, period_start)": "subscription_id is one tenant's",
    "unique subscription_period_info(subscription_id, period_start)": "subscription_id is one tenant's",
    "unique collection_cases(invoice_id)": "invoice_id is one tenant's",
    "unique dunning_reminders(invoice_id, level)": "invoice_id is one tenant's",
    "unique webhook_deliveries(endpoint_id, event_id)": "endpoint and event are one tenant's",
    "unique staff_users(email)": "the /admin login form names no tenant: a staff user is found by e-mail alone",
    "unique payment_requests(method, provider_reference)": (
        "a Swish callback or Stripe webhook names only the provider's id"
    ),
    "unique payment_refunds(method, provider_reference)": "a refund callback names only the provider's id",
}

# Foreign keys without tenant_id: "fk table(columns) -> referred table". Each joins two rows of
# one tenant (the services write both in the tenant's transaction); on Citus each would become
# (tenant_id, x_id) -> (tenant_id, id).
_SAME_TENANT = "both rows are one tenant's, written together by its service"
FOREIGN_WITHOUT_TENANT = {
    "fk autogiro_debits(invoice_id) -> invoices": "the invoice debited; " + _SAME_TENANT,
    "fk autogiro_debits(mandate_id) -> autogiro_mandates": "the mandate debited; " + _SAME_TENANT,
    "fk autogiro_debits(payment_id) -> payments": "the payment the debit booked; " + _SAME_TENANT,
    "fk autogiro_mandates(customer_id) -> customers": "the payer; " + _SAME_TENANT,
    "fk autogiro_credits(customer_id) -> customers": "the payer paid back; " + _SAME_TENANT,
    "fk autogiro_credits(mandate_id) -> autogiro_mandates": "the mandate paid through; " + _SAME_TENANT,
    "fk automation_firings(rule_id) -> automation_rules": "a firing of the tenant's rule; " + _SAME_TENANT,
    "fk bankid_sign_orders(customer_id) -> customers": "the payer signing; " + _SAME_TENANT,
    "fk bankid_sign_orders(invoice_id) -> invoices": "the invoice signed on; " + _SAME_TENANT,
    "fk bankid_sign_orders(mandate_id) -> autogiro_mandates": "the mandate the order made; " + _SAME_TENANT,
    "fk billing_file_invoice_refs(file_id) -> billing_files": "the file that named the ref; " + _SAME_TENANT,
    "fk billing_file_invoice_refs(invoice_id) -> invoices": "the invoice the ref made; " + _SAME_TENANT,
    "fk billing_periods(billing_run_id) -> billing_runs": "the run that billed the period; " + _SAME_TENANT,
    "fk billing_periods(invoice_id) -> invoices": "the period's invoice; " + _SAME_TENANT,
    "fk billing_periods(subscription_id) -> subscriptions": "the period's subscription; " + _SAME_TENANT,
    "fk collection_cases(customer_id) -> customers": "the debtor; " + _SAME_TENANT,
    "fk collection_cases(invoice_id) -> invoices": "the invoice handed over; " + _SAME_TENANT,
    "fk collection_cases(reminder_id) -> dunning_reminders": "the last reminder; " + _SAME_TENANT,
    "fk collection_events(case_id) -> collection_cases": "the agency's event on the case; " + _SAME_TENANT,
    "fk deliveries(invoice_id) -> invoices": "the invoice delivered; " + _SAME_TENANT,
    "fk dunning_pauses(customer_id) -> customers": "a paused customer; " + _SAME_TENANT,
    "fk dunning_pauses(invoice_id) -> invoices": "a paused invoice; " + _SAME_TENANT,
    "fk dunning_reminders(charge_invoice_id) -> invoices": "the fee and interest invoice; " + _SAME_TENANT,
    "fk dunning_reminders(customer_id) -> customers": "the reminded customer; " + _SAME_TENANT,
    "fk dunning_reminders(invoice_id) -> invoices": "the reminded invoice; " + _SAME_TENANT,
    "fk dunning_reminders(policy_id) -> dunning_policies": "the policy applied; " + _SAME_TENANT,
    "fk instalment_plans(charge_invoice_id) -> invoices": "the plan's fee invoice; " + _SAME_TENANT,
    "fk instalment_plans(invoice_id) -> invoices": "the invoice paid in parts; " + _SAME_TENANT,
    "fk invoice_events(invoice_id) -> invoices": "the timeline's invoice; " + _SAME_TENANT,
    "fk invoice_lines(invoice_id) -> invoices": "the line's invoice; " + _SAME_TENANT,
    "fk invoice_lines(item_id) -> items": "the tenant's catalogue item; " + _SAME_TENANT,
    "fk invoices(credited_invoice_id) -> invoices": "a credit note's invoice; " + _SAME_TENANT,
    "fk invoices(customer_id) -> customers": "the buyer; " + _SAME_TENANT,
    "fk journal_entries(invoice_id) -> invoices": "the entry's invoice; " + _SAME_TENANT,
    "fk journal_entries(reverses_entry_id) -> journal_entries": "the entry reversed; " + _SAME_TENANT,
    "fk journal_lines(customer_id) -> customers": "the receivable's customer; " + _SAME_TENANT,
    "fk journal_lines(entry_id) -> journal_entries": "the line's entry; " + _SAME_TENANT,
    "fk journal_lines(invoice_id) -> invoices": "the receivable's invoice; " + _SAME_TENANT,
    "fk payment_allocations(customer_id) -> customers": "credit held for the customer; " + _SAME_TENANT,
    "fk payment_allocations(invoice_id) -> invoices": "the invoice paid; " + _SAME_TENANT,
    "fk payment_allocations(payment_id) -> payments": "the money allocated; " + _SAME_TENANT,
    "fk payment_deviations(customer_id) -> customers": "the customer concerned; " + _SAME_TENANT,
    "fk payment_deviations(invoice_id) -> invoices": "the invoice concerned; " + _SAME_TENANT,
    "fk payment_deviations(payment_id) -> payments": "the payment that deviated; " + _SAME_TENANT,
    "fk payment_extensions(invoice_id) -> invoices": "the invoice given anstånd; " + _SAME_TENANT,
    "fk payment_refunds(request_id) -> payment_requests": "the request refunded; " + _SAME_TENANT,
    "fk payment_requests(invoice_id) -> invoices": "the invoice to pay; " + _SAME_TENANT,
    "fk payment_requests(payment_id) -> payments": "the payment it became; " + _SAME_TENANT,
    "fk payments(customer_id) -> customers": "the payer; " + _SAME_TENANT,
    "fk payments(file_id) -> payment_files": "the bank file it came in; " + _SAME_TENANT,
    "fk subscription_lines(item_id) -> items": "the tenant's catalogue item; " + _SAME_TENANT,
    "fk subscription_lines(subscription_id) -> subscriptions": "the line's subscription; " + _SAME_TENANT,
    "fk subscription_pauses(subscription_id) -> subscriptions": "the paused subscription; " + _SAME_TENANT,
    "fk subscription_period_info(subscription_id) -> subscriptions": "the period's subscription; " + _SAME_TENANT,
    "fk subscriptions(customer_id) -> customers": "the subscriber; " + _SAME_TENANT,
    "fk web_invoice_visits(invoice_id) -> invoices": "the invoice visited; " + _SAME_TENANT,
    "fk webhook_attempts(delivery_id) -> webhook_deliveries": "the delivery attempted; " + _SAME_TENANT,
    "fk webhook_deliveries(endpoint_id) -> webhook_endpoints": "the tenant's endpoint; " + _SAME_TENANT,
    "fk webhook_deliveries(event_id) -> webhook_events": "the tenant's event; " + _SAME_TENANT,
    "fk staff_audit_log(staff_id) -> staff_users": "the staff member who acted; " + _SAME_TENANT,
}


def keys_without_tenant() -> tuple[set[str], set[str], set[str]]:
    tables, unique, foreign = set(), set(), set()
    for table in Base.metadata.tables.values():
        if "tenant_id" not in table.c:
            tables.add(table.name)
        for constraint in table.constraints:
            columns = [column.name for column in constraint.columns]
            if "tenant_id" in columns:
                continue
            if isinstance(constraint, UniqueConstraint):
                unique.add(f"unique {table.name}({', '.join(columns)})")
            elif isinstance(constraint, ForeignKeyConstraint):
                referred = constraint.elements[0].column.table.name
                foreign.add(f"fk {table.name}({', '.join(columns)}) -> {referred}")
        for index in table.indexes:
            columns = [column.name for column in index.columns]
            if index.unique and "tenant_id" not in columns:
                unique.add(f"unique {table.name}({', '.join(columns)})")
    return tables, unique, foreign


def test_tables_without_tenant_id_are_the_listed_ones() -> None:
    tables, _, _ = keys_without_tenant()
    assert tables == set(TENANTLESS_TABLES), (
        f"new: {sorted(tables - set(TENANTLESS_TABLES))}; gone: {sorted(set(TENANTLESS_TABLES) - tables)}"
    )


def test_unique_keys_without_tenant_id_are_the_listed_ones() -> None:
    _, unique, _ = keys_without_tenant()
    assert unique == set(UNIQUE_WITHOUT_TENANT), (
        f"new: {sorted(unique - set(UNIQUE_WITHOUT_TENANT))}; gone: {sorted(set(UNIQUE_WITHOUT_TENANT) - unique)}"
    )


def test_foreign_keys_without_tenant_id_are_the_listed_ones() -> None:
    _, _, foreign = keys_without_tenant()
    assert foreign == set(FOREIGN_WITHOUT_TENANT), (
        f"new: {sorted(foreign - set(FOREIGN_WITHOUT_TENANT))}; gone: {sorted(set(FOREIGN_WITHOUT_TENANT) - foreign)}"
    )


def test_every_listed_key_has_a_reason_and_every_tenant_table_a_tenant_key() -> None:
    for listed in (TENANTLESS_TABLES, UNIQUE_WITHOUT_TENANT, FOREIGN_WITHOUT_TENANT):
        for key, reason in listed.items():
            assert reason.strip() and "\n" not in reason, key
    # A table with tenant_id refers to its tenant, so that a tenant's rows can be found and moved.
    for table in Base.metadata.tables.values():
        if "tenant_id" in table.c:
            referred = {fk.column.table.name for fk in table.c.tenant_id.foreign_keys}
            assert referred == {"tenants"}, f"{table.name}.tenant_id has no foreign key to tenants"
