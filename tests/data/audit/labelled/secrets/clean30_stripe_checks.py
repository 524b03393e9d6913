import os

import stripe

stripe.api_key = os.environ["STRIPE_TEST_KEY"]


def test_charge(stripe_mock):
    assert stripe.Charge.create(amount=100, currency="eur").paid
