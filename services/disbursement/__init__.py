"""Disbursement service: every yuan tracked from allocation to the enterprise's account (资金拨付), and arrears."""
