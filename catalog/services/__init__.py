"""Writes for the shop; one module per entity (products, orders, payments)."""
